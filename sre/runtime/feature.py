"""What a daemon feature is: jobs, HTTP routes, start and stop.

A feature is constructed by ``sre.daemon.app`` with everything it uses passed in (its
config section, clients, store, notifier, registry, clock), in the style of Alertmanager's
``New(conf, tmpl, logger)``: no shared context, no slot a sibling fills in later. It then
contributes:

* ``jobs()`` - :class:`sre.runtime.jobs.JobSpec` s (``"cost.daily"`` with an APScheduler
  trigger); the daemon registers each with coalesce, max_instances=1 and a misfire grace,
  and runs it through :class:`sre.runtime.jobs.JobRunner` (timed, counted, contained);
* ``routes()`` - aiohttp route definitions, mounted on the daemon's one port;
* ``start()`` / ``stop(timeout)`` - called in order after the server listens and the
  scheduler runs; stopped in reverse order within the shutdown budget.

A feature that cannot run with this config or environment (its secret's variable is unset)
raises :class:`FeatureError` from its constructor: the daemon logs why and exits 2.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from sre.runtime.jobs import JobSpec


class Feature:
    """Base with no-op defaults; override what the feature needs."""

    name = "feature"

    def jobs(self) -> Sequence[JobSpec]:
        return ()

    def routes(self) -> Sequence[web.RouteDef]:
        return ()

    async def start(self) -> None:
        """Called after the server listens and the scheduler runs."""

    async def stop(self, timeout: float) -> None:
        """Stop taking work; finish or persist in-flight work within ``timeout`` seconds."""


class FeatureError(Exception):
    """A feature cannot run with this config or environment (the daemon exits 2)."""
