"""The extension seam: what a daemon feature is, and what it is built from.

A feature is one module exposing a factory ``build(ctx: FeatureContext) -> Feature | None``
(None when its config section is absent). A :class:`Feature` contributes scheduled jobs,
HTTP routes and start/stop hooks; ``sre.daemon.app`` registers the jobs with the shared
policy (coalesce, max_instances=1, misfire grace), mounts the routes on the one server,
starts features in order and stops them in reverse. See the ``sre.daemon.app`` docstring.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry

from sre.config import Config
from sre.daemon.metrics import DaemonMetrics
from sre.daemon.store import Store
from sre.jobs.base import JobRunner, JobSpec
from sre.notify.notices import Notifier, OutboxNotifier

if TYPE_CHECKING:
    from sre.jobs.probes import ProbeStatusReader

Clock = Callable[[], float]


class ManualRollback(Protocol):
    """What the rollback feature offers to others (the Slack "Roll back" button)."""

    def has_target(self, service: str) -> bool:
        """True when ``service`` has a rollback target (the button is shown only then)."""
        ...

    async def request(self, service: str, *, requested_by: str, reason: str) -> str:
        """Roll ``service`` back through the same executor, safety checks and audit as the
        automatic trigger; return a one-line human summary of what happened."""
        ...


@dataclass
class FeatureContext:
    """Everything a feature may use. Built once by ``sre.daemon.app``; tests build their own
    (fresh registry, temp store, fake clock, a session to a local server)."""

    config: Config
    store: Store
    registry: CollectorRegistry
    metrics: DaemonMetrics
    clock: Clock
    session: aiohttp.ClientSession  # shared; for clients of outside systems
    runner: JobRunner
    probes: ProbeStatusReader | None = None  # the probe engine's read interface
    options: dict[str, Any] | None = None  # CLI switches features may read (e.g. insecure_dev)
    notifier: Notifier | None = None  # see ``notices``
    rollbacks: ManualRollback | None = None  # set by the rollback feature when it is on

    @property
    def notices(self) -> Notifier:
        """Where features announce things to people. Notices go to the store's outbox first
        (idempotent by key); the alert-handling feature delivers them to Slack or the log."""
        if self.notifier is None:
            self.notifier = OutboxNotifier(self.store)
        return self.notifier


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


FeatureFactory = Callable[[FeatureContext], Feature | None]
