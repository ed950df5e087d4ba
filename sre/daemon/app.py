"""The one place that wires real objects: store, scheduler, HTTP server, clients, features.

:func:`build_features` constructs every feature with exactly what it uses, in order, and
is the map of the daemon: read it to see which feature talks to which client. Shared
runtime objects come in as :class:`Parts` (built once by :class:`Daemon`); no feature ever
sees ``Parts``. A test passes its own builder (``Daemon(..., features=...)``).

Shutdown (SIGTERM/SIGINT): the server stops accepting, ``/readyz`` answers 503, the
scheduler is paused (no new runs), running jobs get ``daemon.shutdown_timeout`` to finish
(then are cancelled), features stop in reverse, the scheduler shuts down, the store is
checkpointed and closed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from prometheus_client import CollectorRegistry, Counter, disable_created_metrics

import sre
from sre.clients import ClientError
from sre.clients.alertmanager import AlertmanagerClient
from sre.clients.aws import AwsClient
from sre.clients.helm import Helm
from sre.clients.kube import Kubectl
from sre.clients.prometheus import PrometheusClient
from sre.config import AwsConfig, Config
from sre.features.alerts.feature import AlertsFeature, slack_poster
from sre.features.backups.feature import BackupsFeature
from sre.features.cost.feature import CostFeature
from sre.features.probes.engine import StartHook
from sre.features.probes.feature import ProbesFeature
from sre.features.rollback.feature import RollbackFeature
from sre.features.rollback.targets import target_for
from sre.features.rollback.triggers import Triggers
from sre.runtime.feature import Feature, FeatureError
from sre.runtime.http import core_routes
from sre.runtime.jobs import JobRunner
from sre.runtime.maintenance import StoreMaintenance
from sre.runtime.metrics import CoreMetrics, catalog_metric
from sre.runtime.notices import OutboxNotifier
from sre.runtime.store import Store, open_store

log = logging.getLogger(__name__)

Clock = Callable[[], float]


@dataclass(frozen=True)
class Parts:
    """The runtime objects features are built from (only :func:`build_features` reads this)."""

    config: Config
    store: Store
    registry: CollectorRegistry
    clock: Clock
    session: aiohttp.ClientSession  # shared; for HTTP clients of outside systems
    runner: JobRunner
    notices: OutboxNotifier
    env: Mapping[str, str]
    insecure_dev: bool = False
    on_probe_start: StartHook | None = None


FeatureBuilder = Callable[[Parts], list[Feature]]


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
    if not any(s.rollback is not None for s in cfg.services):
        notes.append("rollback: no service has a rollback block, auto-rollback off")
    return notes


def aws_client(aws: AwsConfig, errors: Counter) -> AwsClient:
    """An AWS client whose failed attempts count in ``sre_aws_errors_total``."""

    def counted(api: str, err: ClientError) -> None:
        errors.labels(api=api, reason=err.reason).inc()

    return AwsClient(aws.region, aws.endpoint_url, on_error=counted)


def build_features(p: Parts) -> list[Feature]:
    """Every feature of the daemon, constructed with what it uses, in start order."""
    cfg = p.config
    probes = ProbesFeature(
        cfg.all_probes(),
        concurrency=cfg.daemon.probe_concurrency,
        runner=p.runner,
        registry=p.registry,
        clock=p.clock,
        on_start=p.on_probe_start,
    )
    rollback: RollbackFeature | None = None
    if any(s.rollback is not None for s in cfg.services):
        prometheus = PrometheusClient(cfg.prometheus.url, p.session)
        kubectl, helm = Kubectl(), Helm()
        rollback = RollbackFeature(
            cfg.services,
            cfg.daemon.rollbacks,
            targets={s.name: target_for(s, kubectl, helm) for s in cfg.services if s.rollback},
            triggers=Triggers(cfg, prometheus, probes.targets),
            store=p.store,
            notices=p.notices,
            registry=p.registry,
            clock=p.clock,
        )
    am = cfg.alertmanager
    alerts = AlertsFeature(
        cfg.daemon,
        cfg.slack,
        am,
        poster=slack_poster(cfg.slack, p.env),
        alertmanager_client=AlertmanagerClient(am.url, p.session) if am else None,
        rollbacks=rollback,
        store=p.store,
        notices=p.notices,
        registry=p.registry,
        clock=p.clock,
        env=p.env,
        insecure_dev=p.insecure_dev,
    )
    features: list[Feature] = [StoreMaintenance(p.store), probes, alerts]
    aws_errors = catalog_metric(p.registry, "sre_aws_errors_total")
    if cfg.cost is not None and cfg.aws is not None:
        cost = CostFeature(
            cfg.cost,
            aws_client(cfg.aws, aws_errors),
            store=p.store,
            notices=p.notices,
            registry=p.registry,
            clock=p.clock,
        )
        features.append(cost)
    if cfg.backups and cfg.aws is not None:
        backups = BackupsFeature(
            cfg.backups,
            aws_client(cfg.aws, aws_errors),
            store=p.store,
            notices=p.notices,
            registry=p.registry,
            clock=p.clock,
        )
        features.append(backups)
    if rollback is not None:
        features.append(rollback)
    return features


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
        insecure_dev: bool = False,
        env: Mapping[str, str] | None = None,
        features: FeatureBuilder = build_features,
    ) -> None:
        self.cfg = cfg
        self.clock = clock
        self.registry = registry if registry is not None else CollectorRegistry()
        self.store = open_store(cfg.daemon, clock, exclusive=True)
        self.metrics = CoreMetrics(self.registry, sre.__version__, config_sha256)
        self.notices = OutboxNotifier(self.store)
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
        self.build = features
        self.on_probe_start = on_probe_start
        self.insecure_dev = insecure_dev
        self.env = os.environ if env is None else env
        self.stopping = False
        self._web: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

    async def ready(self) -> str | None:
        if self.stopping:
            return "shutting down"
        if not self.store.is_open:
            return "state store closed"
        if not self.scheduler.running:
            return "scheduler not running"
        return await self.store.run(self.store.writable)

    def _build_features(self) -> None:
        assert self.session is not None
        parts = Parts(
            config=self.cfg,
            store=self.store,
            registry=self.registry,
            clock=self.clock,
            session=self.session,
            runner=self.runner,
            notices=self.notices,
            env=self.env,
            insecure_dev=self.insecure_dev,
            on_probe_start=self.on_probe_start,
        )
        self.features = self.build(parts)

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
            self.store.where,
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
