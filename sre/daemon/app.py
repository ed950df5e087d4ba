"""The one place that wires real objects: scheduler, HTTP server, store, features.

Extension seam (issues 4-6)
---------------------------
A feature is one module with a factory ``build(ctx: FeatureContext) -> Feature | None``
(``sre.daemon.feature``). It returns None when its config section is absent (the daemon
already logged that once, see :func:`section_notes`). It gets everything through ``ctx``:
config, the state store (its own tables via ``store.migrate("<feature>", [...])``), the
metrics registry (``catalog_metric(registry, name)``), the clock, the shared aiohttp
session, the job runner and the probe engine's ``ProbeStatusReader``. It contributes:

* ``jobs()`` - ``JobSpec(id="cost.daily", func=..., trigger=CronTrigger(...))``; the
  daemon registers each with coalesce=True, max_instances=1 and
  misfire_grace_time=daemon.misfire_grace, and runs it through ``JobRunner`` (timed,
  counted in ``sre_job_*``, failures logged and contained);
* ``routes()`` - aiohttp ``web.post("/alertmanager", handler)``, mounted on the one port;
* ``start()`` / ``stop(timeout)`` - started in order after the server listens and the
  scheduler runs, stopped in reverse order within the shutdown budget.

Adding the Alertmanager receiver is then: write ``sre/jobs/alerts.py`` with ``build`` and
add it to :data:`FEATURES` below - one module, one line. Something several features share
(the Slack notifier) is built by the first and put on ``ctx`` for the later ones. A CLI
switch a feature needs (``--insecure-dev``) is parsed in ``__main__`` and reaches it as
``ctx.options`` (``Daemon(..., options={"insecure_dev": True})``). A feature that must
refuse to start (its secret's variable is unset) raises ``FeatureError("why")`` from its
factory: the daemon logs the reason and exits 2, like a bad config.

Shutdown (SIGTERM/SIGINT): the server stops accepting, ``/readyz`` answers 503, the
scheduler is paused (no new runs), running jobs get ``daemon.shutdown_timeout`` to finish
(then are cancelled), features stop in reverse, the scheduler shuts down, the store is
checkpointed and closed.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import aiohttp
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import CollectorRegistry, disable_created_metrics

import sre
from sre.config import Config
from sre.daemon.feature import Feature, FeatureContext, FeatureError, FeatureFactory
from sre.daemon.metrics import DaemonMetrics
from sre.daemon.routes import core_routes
from sre.daemon.store import Store
from sre.jobs import alerts as alerts_feature
from sre.jobs import backups as backups_feature
from sre.jobs import cost as cost_feature
from sre.jobs.base import JobRunner, JobSpec
from sre.jobs.probes import ProbeEngines, StartHook
from sre.jobs.rollback import build as rollback_build

log = logging.getLogger(__name__)

Clock = Callable[[], float]

# Later features: one line each, e.g. ``alerts.build``, ``rollback.build``, ``cost.build``.
FEATURES: list[FeatureFactory] = [
    alerts_feature.build,  # first: it delivers the notices the others announce
    cost_feature.build,
    backups_feature.build,
    rollback_build,
]


def section_notes(cfg: Config) -> list[str]:
    """One line per absent optional section: what it switches off."""
    notes = []
    if cfg.alertmanager is None:
        notes.append("alertmanager: section absent, silences and alert reconcile off")
    if cfg.slack is None:
        notes.append("slack: section absent, Slack notifications off (console sink)")
    if cfg.aws is None:
        notes.append("aws: section absent, AWS features (cost, backups) off")
    if cfg.cost is None:
        notes.append("cost: section absent, cost analysis off")
    if not cfg.backups:
        notes.append("backups: section absent, backup verification off")
    if not cfg.probes:
        health = sum(1 for s in cfg.services if s.health is not None)
        if health:
            notes.append(f"probes: section absent, probing services[].health only ({health})")
        else:
            notes.append("probes: section absent and no services[].health, health probes off")
    return notes


class _Maintenance(Feature):
    """The core's own job: drop expired cache entries, checkpoint the WAL."""

    name = "store"

    def __init__(self, store: Store) -> None:
        self.store = store

    def jobs(self) -> Sequence[JobSpec]:
        return [JobSpec("store.maintenance", self._run, IntervalTrigger(hours=1))]

    async def _run(self) -> None:
        purged = await self.store.run(self.store.cache_purge)
        log.debug("store maintenance: %d expired cache entries removed", purged)


class Daemon:
    """Built (not started) from a config; ``start`` / ``stop`` / ``serve``."""

    def __init__(
        self,
        cfg: Config,
        config_sha256: str,
        *,
        registry: CollectorRegistry | None = None,
        clock: Clock = time.time,
        on_probe_start: StartHook | None = None,
        options: dict[str, object] | None = None,
    ) -> None:
        self.cfg = cfg
        self.clock = clock
        self.registry = registry if registry is not None else CollectorRegistry()
        self.store = Store(cfg.daemon.state_path, clock, exclusive=True)
        self.metrics = DaemonMetrics(self.registry, sre.__version__, config_sha256)
        self.runner = JobRunner(self.metrics, clock)
        self.scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": max(1, round(cfg.daemon.misfire_grace.seconds)),
            },
        )
        self.runner.attach(self.scheduler)
        self.session: aiohttp.ClientSession | None = None
        self.features: list[Feature] = []
        self.on_probe_start = on_probe_start
        self.options = options or {}
        self.stopping = False
        self._web: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

    def ready(self) -> str | None:
        if self.stopping:
            return "shutting down"
        if not self.store.is_open:
            return "state store closed"
        if not self.scheduler.running:
            return "scheduler not running"
        return None

    def _build_features(self) -> None:
        assert self.session is not None
        ctx = FeatureContext(
            config=self.cfg,
            store=self.store,
            registry=self.registry,
            metrics=self.metrics,
            clock=self.clock,
            session=self.session,
            runner=self.runner,
            options=dict(self.options),
        )
        self.features = [_Maintenance(self.store), ProbeEngines(ctx, self.on_probe_start)]
        for factory in FEATURES:
            feature = factory(ctx)
            if feature is not None:
                self.features.append(feature)

    def _register_jobs(self) -> None:
        for feature in self.features:
            for spec in feature.jobs():
                extra = dict(spec.kwargs)
                if spec.run_at_start:
                    extra["next_run_time"] = datetime.fromtimestamp(self.clock(), UTC)
                self.scheduler.add_job(
                    self.runner.wrap(spec.id, spec.func),
                    spec.trigger,
                    id=spec.id,
                    name=spec.id,
                    **extra,
                )

    async def start(self) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]
        for note in section_notes(self.cfg):
            log.info("%s", note)
        self.session = aiohttp.ClientSession()
        self._build_features()
        self._register_jobs()
        app = web.Application()
        app.add_routes(core_routes(self.registry, self.ready))
        for feature in self.features:
            app.add_routes(feature.routes())
        self._web = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=self.cfg.daemon.shutdown_timeout.seconds,
        )
        await self._web.setup()
        host, port = self.cfg.daemon.host_port
        self._site = web.TCPSite(self._web, host, port, backlog=1024)
        await self._site.start()
        self.scheduler.start()
        for feature in self.features:
            await feature.start()
        log.info(
            "sre daemon %s listening on %s, %d job(s), state %s",
            sre.__version__,
            self.cfg.daemon.listen,
            len(self.scheduler.get_jobs()),
            self.store.path,
        )

    async def stop(self) -> None:
        timeout = self.cfg.daemon.shutdown_timeout.seconds
        deadline = time.monotonic() + timeout
        self.stopping = True
        log.info("shutting down (up to %.0fs)", timeout)
        if self._site is not None:
            await self._site.stop()  # stop accepting connections
        if self.scheduler.running:
            self.scheduler.pause()  # no new runs; running ones continue
        cancelled = await self.runner.drain(max(0.0, deadline - time.monotonic()))
        if cancelled:
            log.warning("%d job(s) cancelled at the shutdown deadline", cancelled)
        for feature in reversed(self.features):
            try:
                await feature.stop(max(0.1, deadline - time.monotonic()))
            except Exception:
                log.exception("feature %s failed to stop cleanly", feature.name)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._web is not None:
            # Requests still in flight (a client stalling mid-body) get what is left of the
            # budget, not aiohttp's own 60 s: shutdown stays bounded by shutdown_timeout.
            try:
                await asyncio.wait_for(self._web.cleanup(), max(0.5, deadline - time.monotonic()))
            except TimeoutError:
                log.warning("HTTP connections still open at the shutdown deadline: closed")
        if self.session is not None:
            await self.session.close()
        self.store.close()
        log.info("stopped")

    async def serve(self) -> int:
        """Run until SIGTERM/SIGINT, then shut down cleanly; returns the exit code."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await self.start()
        except FeatureError as err:
            log.error("cannot start: %s", err)
            await self.stop()
            return 2
        except OSError as err:
            log.error("cannot listen on %s: %s", self.cfg.daemon.listen, err)
            await self.stop()
            return 1
        except Exception:  # a bug in a feature's start: report it, release everything
            log.exception("cannot start")
            await self.stop()
            return 1
        await stop.wait()
        log.info("signal received")
        await self.stop()
        return 0
