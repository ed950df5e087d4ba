"""The daemon's lifecycle: start, serve, reload, stop.

One port serves the core endpoints (``/metrics``, ``/healthz``, ``/readyz``), ``POST
/-/reload`` and, through one dispatch route, whatever the current features offer, so that
a reload can swap them.

Reload (SIGHUP, or an authenticated ``POST /-/reload``): the file is read and checked
again; a bad config is reported and the running one stays. Otherwise the new features are
built first (one that cannot run keeps the old ones running), then the old ones stop as
at a shutdown (jobs drained, work in flight finished or left in the store) and the new
ones start. Nothing is lost: what was pending is in the store. ``daemon.listen`` and
``daemon.state`` only change with a restart.

Shutdown (SIGTERM/SIGINT): the server stops accepting, ``/readyz`` answers 503, the
scheduler is paused (no new runs), running jobs get ``daemon.shutdown_timeout`` to finish
(then are cancelled), features stop in reverse, the scheduler shuts down, the store is
checkpointed and closed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import signal
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from prometheus_client import CollectorRegistry, disable_created_metrics
from prometheus_client.registry import Collector

import sre
from sre.config import Config, ConfigError, load_config
from sre.daemon.app import FeatureBuilder, Parts, api_token, build_features, section_notes
from sre.features.probes.engine import StartHook
from sre.runtime.feature import Feature, FeatureError
from sre.runtime.ha import open_cluster
from sre.runtime.http import BadRequests, core_routes, text
from sre.runtime.jobs import JobRunner
from sre.runtime.metrics import CoreMetrics
from sre.runtime.notices import OutboxNotifier
from sre.runtime.store import open_store

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class Tracked(CollectorRegistry):
    """What features register goes on ``target``, and is remembered, so a reload can take
    it back before the new features register the same names."""

    def __init__(self, target: CollectorRegistry) -> None:
        super().__init__()
        self.target = target
        self.mine: list[Collector] = []

    def register(self, collector: Collector) -> None:
        self.target.register(collector)
        self.mine.append(collector)

    def unregister(self, collector: Collector) -> None:
        self.target.unregister(collector)
        self.mine.remove(collector)

    def collect(self) -> Iterable[Any]:
        return self.target.collect()

    def take_back(self) -> list[Collector]:
        taken, self.mine = self.mine, []
        for collector in taken:
            self.target.unregister(collector)
        return taken

    def put_back(self, collectors: list[Collector]) -> None:
        for collector in collectors:
            self.register(collector)


class Daemon:
    """Built (not started) from a config; ``start`` / ``stop`` / ``serve`` / ``reload``."""

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
        config_path: str | Path | None = None,
    ) -> None:
        self.cfg = cfg
        self.config_path = Path(config_path) if config_path is not None else None
        self.clock = clock
        self.started_at = clock()
        self.registry = registry if registry is not None else CollectorRegistry()
        self.store = open_store(cfg.daemon, clock, exclusive=True)
        self.cluster = open_cluster(cfg.daemon, self.store, self.registry)
        self.metrics = CoreMetrics(self.registry, sre.__version__, config_sha256)
        self.notices = OutboxNotifier(self.store)
        self.bad_requests = BadRequests(self.metrics.bad_requests)
        self.runner = JobRunner(
            self.metrics, clock, leading=lambda: self.cluster.leading() is not None
        )
        self.scheduler = AsyncIOScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1}
        )
        self.runner.attach(self.scheduler)
        self.session: aiohttp.ClientSession | None = None
        self.features: list[Feature] = []
        self.feature_metrics = Tracked(self.registry)
        self.routes: dict[tuple[str, str], Any] = {}
        self.build = features
        self.on_probe_start = on_probe_start
        self.insecure_dev = insecure_dev
        self.env = os.environ if env is None else env
        self.stopping = False
        self._reloading = asyncio.Lock()
        self._web: web.AppRunner | None = None
        self._start_jobs: list[str] = []  # leader-only jobs that run at start
        self._leading = False
        self._unwatch: Callable[[], None] = lambda: None
        self._site: web.TCPSite | None = None

    async def ready(self) -> str | None:
        if self.stopping:
            return "shutting down"
        if not self.store.is_open:
            return "state store closed"
        if not self.scheduler.running:
            return "scheduler not running"
        return await self.store.run(self.store.writable)

    def _parts(self, cfg: Config, registry: CollectorRegistry) -> Parts:
        assert self.session is not None
        return Parts(
            config=cfg,
            store=self.store,
            registry=registry,
            clock=self.clock,
            session=self.session,
            runner=self.runner,
            notices=self.notices,
            env=self.env,
            insecure_dev=self.insecure_dev,
            on_probe_start=self.on_probe_start,
            started_at=self.started_at,
            cluster=self.cluster,
        )

    def _register_jobs(self) -> None:
        grace = max(1, round(self.cfg.daemon.misfire_grace.seconds))
        self._start_jobs = []
        for feature in self.features:
            for spec in feature.jobs():
                extra = {"misfire_grace_time": grace, **spec.kwargs}
                if spec.run_at_start:
                    extra["next_run_time"] = datetime.fromtimestamp(self.clock(), UTC)
                    if spec.leader_only:
                        self._start_jobs.append(spec.id)
                self.scheduler.add_job(
                    self.runner.wrap(spec.id, spec.func, leader_only=spec.leader_only),
                    spec.trigger,
                    id=spec.id,
                    name=spec.id,
                    **extra,
                )

    def _leadership_changed(self) -> None:
        leading = self.cluster.leading() is not None
        if leading and not self._leading:  # a follower became the leader
            if moved := self.runner.run_now(self.scheduler, self._start_jobs):
                log.info("leading now: %s run at once", ", ".join(moved))
        self._leading = leading

    def _mount(self) -> None:
        self.routes = {(r.method, r.path): r.handler for f in self.features for r in f.routes()}

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        """Every path a feature offers goes through here: a reload swaps the table."""
        handler = self.routes.get((request.method, request.path))
        if handler is not None:
            response: web.StreamResponse = await handler(request)
            return response
        if any(path == request.path for _, path in self.routes):
            return text(405, f"{request.method} is not allowed here")
        return text(404, "not found")

    async def _reload_route(self, request: web.Request) -> web.Response:
        token = api_token(self.cfg, self.env, self.insecure_dev)
        if not token.allows(request):
            return token.refused()
        problem = await self.reload()
        if problem is not None:
            return text(400, f"not reloaded, the running config stays: {problem}")
        return text(200, "reloaded")

    async def start(self) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.bad_requests.install()
        for note in section_notes(self.cfg):
            log.info("%s", note)
        self.session = aiohttp.ClientSession()
        self.features = self.build(self._parts(self.cfg, self.feature_metrics))
        self._register_jobs()
        self._mount()
        app = web.Application()
        app.add_routes(core_routes(self.registry, self.ready))
        app.router.add_post("/-/reload", self._reload_route)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
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
        await self.cluster.start()  # leader or not, known before any feature starts
        self._leading = self.cluster.leading() is not None
        self._unwatch = self.cluster.watch(self._leadership_changed)
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

    async def _stop_features(self, deadline: float) -> None:
        cancelled = await self.runner.drain(max(0.0, deadline - time.monotonic()))
        if cancelled:
            log.warning("%d job(s) cancelled at the deadline", cancelled)
        for feature in reversed(self.features):
            try:
                await feature.stop(max(0.1, deadline - time.monotonic()))
            except Exception:
                log.exception("feature %s failed to stop cleanly", feature.name)

    async def reload(self) -> str | None:
        """Re-read the config file and switch to it; None when done, else why not (the
        running config stays)."""
        async with self._reloading:
            if self.config_path is None or self.stopping:
                return "no config file to reload" if not self.stopping else "shutting down"
            problem = await self._reload()
            if problem is not None:
                self.metrics.reload_refused()
            return problem

    async def _reload(self) -> str | None:
        assert self.config_path is not None
        try:
            cfg = load_config(self.config_path)
        except ConfigError as err:
            log.error("reload refused, the running config stays:\n%s", err.render())
            return err.render()
        kept = (cfg.daemon.listen, cfg.daemon.state)
        if kept != (self.cfg.daemon.listen, self.cfg.daemon.state):
            why = "daemon.listen and daemon.state only change with a restart"
            log.error("reload refused, the running config stays: %s", why)
            return why
        old_metrics = self.feature_metrics.take_back()
        try:
            features = self.build(self._parts(cfg, self.feature_metrics))
        except FeatureError as err:
            self.feature_metrics.take_back()
            self.feature_metrics.put_back(old_metrics)
            log.error("reload refused, the running config stays: %s", err)
            return str(err)
        self.scheduler.pause()
        await self._stop_features(time.monotonic() + cfg.daemon.shutdown_timeout.seconds)
        self.scheduler.remove_all_jobs()
        self.cfg, self.features = cfg, features
        self._register_jobs()
        self._mount()
        for feature in self.features:
            await feature.start()
        self.scheduler.resume()
        sha = hashlib.sha256(self.config_path.read_bytes()).hexdigest()
        self.metrics.config_loaded(sha)
        for note in section_notes(cfg):
            log.info("%s", note)
        log.info("reloaded %s (sha256 %s)", self.config_path, sha[:12])
        return None

    async def stop(self) -> None:
        timeout = self.cfg.daemon.shutdown_timeout.seconds
        deadline = time.monotonic() + timeout
        self.stopping = True
        log.info("shutting down (up to %.0fs)", timeout)
        if self._site is not None:
            await self._site.stop()  # stop accepting connections
        if self.scheduler.running:
            self.scheduler.pause()  # no new runs; running ones continue
        await self._stop_features(deadline)
        self._unwatch()
        await self.cluster.stop()  # hands the lease on at once
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
        self.bad_requests.remove()
        log.info("stopped")

    async def serve(self) -> int:
        """Run until SIGTERM/SIGINT, reload on SIGHUP; returns the exit code."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        reloads: set[asyncio.Task[str | None]] = set()

        def hangup() -> None:
            log.info("SIGHUP: reloading %s", self.config_path)
            task = loop.create_task(self.reload())
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        loop.add_signal_handler(signal.SIGHUP, hangup)
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
