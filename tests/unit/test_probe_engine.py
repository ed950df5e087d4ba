"""The probe engine in-process against a local aiohttp server: state, bounds, grouping."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest

from sre.config import parse_config
from sre.features.probes.feature import ProbesFeature
from sre.runtime.jobs import JobRunner
from sre.runtime.metrics import CoreMetrics


class Target:
    """A local HTTP server whose answers the test controls."""

    def __init__(self) -> None:
        self.status = 200
        self.delay = 0.0
        self.active = 0
        self.max_active = 0
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def handle(self, _: web.Request) -> web.Response:
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            await asyncio.sleep(self.delay)
            return web.Response(status=self.status, text="ok")
        finally:
            self.active -= 1

    async def __aenter__(self) -> Target:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


def config(tmp: Path, probes: list[dict[str, Any]], concurrency: int = 64) -> Any:
    return parse_config(
        {
            "system": "t",
            "prometheus": {"url": "http://127.0.0.1:9"},
            "runbooks": {"base_url": "http://x/"},
            "services": [{"name": "api", "namespace": "ns"}],
            "probes": probes,
            "daemon": {"state": f"sqlite:///{tmp}/s.db", "probe_concurrency": concurrency},
        }
    )


async def engines(cfg: Any, **kw: Any) -> tuple[ProbesFeature, CollectorRegistry]:
    registry = CollectorRegistry()
    metrics = CoreMetrics(registry, "test", "sha")
    probes = ProbesFeature(
        cfg.all_probes(),
        concurrency=cfg.daemon.probe_concurrency,
        runner=JobRunner(metrics),
        registry=registry,
        clock=kw.pop("clock", time.time),
        **kw,
    )
    return probes, registry


def test_state_follows_the_target_and_is_readable(tmp_path: Path) -> None:
    async def go() -> None:
        async with Target() as target:
            url = f"http://127.0.0.1:{target.port}/healthz"
            cfg = config(
                tmp_path,
                [
                    {
                        "name": "web",
                        "service": "api",
                        "url": url,
                        "interval": "200ms",
                        "timeout": "150ms",
                    }
                ],
            )
            probes, registry = await engines(cfg)
            status = probes.targets.status
            await probes.start()
            await wait_for(lambda: (status("api", "web") or EMPTY).consecutive_successes >= 2)
            up = status("api", "web")
            assert up is not None and up.up is True and up.consecutive_failures == 0
            target.status = 500
            await wait_for(lambda: (status("api", "web") or EMPTY).consecutive_failures >= 3)
            down = status("api", "web")
            assert down is not None and down.up is False and down.last_reason == "status"
            assert down.since is not None and up.since is not None and down.since > up.since
            assert probes.targets.for_service("api") == [status("api", "web")]
            assert status("api", "nope") is None
            text = generate_latest(registry).decode()
            assert 'sre_probe_success{service="api",target="web"} 0.0' in text
            assert 'sre_probe_http_status_code{service="api",target="web"} 500.0' in text
            assert 'sre_probe_failures_total{reason="status",service="api",target="web"}' in text
            assert 'sre_probe_engine_heartbeat_timestamp_seconds{interval="200ms"}' in text
            assert 'sre_job_runs_total{job="probes.200ms",outcome="success"}' in text
            await probes.stop(1.0)

    asyncio.run(go())


def test_one_engine_per_interval_with_spread_slots(tmp_path: Path) -> None:
    async def go() -> None:
        async with Target() as target:
            base = f"http://127.0.0.1:{target.port}"
            fast = [
                {"name": f"f{i}", "url": f"{base}/f{i}", "interval": "500ms", "timeout": "400ms"}
                for i in range(6)
            ]
            slow = [
                {"name": f"s{i}", "url": f"{base}/s{i}", "interval": "1s", "timeout": "400ms"}
                for i in range(3)
            ]
            seen: list[tuple[float, float]] = []
            probes, _ = await engines(
                config(tmp_path, fast + slow), on_start=lambda s, a: seen.append((s, a))
            )
            assert sorted(len(e.targets) for e in probes.engines) == [3, 6]
            assert sorted(e.job_id for e in probes.engines) == ["probes.1s", "probes.500ms"]
            await probes.start()
            await wait_for(lambda: all(t.state.probes >= 1 for t in probes.targets.all()))
            await probes.stop(1.0)
            fast_engine = next(e for e in probes.engines if e.label == "500ms")
            assert len({t.offset for t in fast_engine.targets}) == 6  # own slots, no burst
            slots = [(e.interval, t.offset) for e in probes.engines for t in e.targets]
            assert len(seen) >= 9
            for scheduled, actual in seen:
                assert actual >= scheduled - 0.01  # never early
                # every start was scheduled at k * interval + that target's offset
                assert any(
                    abs((scheduled - o) / i - round((scheduled - o) / i)) < 1e-4 for i, o in slots
                )

    asyncio.run(go())


def test_concurrency_is_bounded(tmp_path: Path) -> None:
    async def go() -> None:
        async with Target() as target:
            target.delay = 0.4
            base = f"http://127.0.0.1:{target.port}"
            many = [
                {"name": f"t{i}", "url": f"{base}/{i}", "interval": "1s", "timeout": "900ms"}
                for i in range(16)
            ]
            probes, _ = await engines(config(tmp_path, many, concurrency=3))
            await probes.start()
            await wait_for(lambda: sum(t.state.probes for t in probes.targets.all()) >= 12, limit=8)
            await probes.stop(1.0)
            assert 2 <= target.max_active <= 3

    asyncio.run(go())


EMPTY = type("Empty", (), {"consecutive_successes": 0, "consecutive_failures": 0})()


async def wait_for(cond: Any, limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def test_a_failing_round_does_not_stop_the_engine(tmp_path: Path) -> None:
    calls: list[float] = []

    def hook(scheduled: float, actual: float) -> None:
        calls.append(scheduled)
        if len(calls) == 1:
            raise RuntimeError("a bug in the dispatcher")

    async def go() -> None:
        async with Target() as target:
            url = f"http://127.0.0.1:{target.port}/"
            one = [{"name": "a", "url": url, "interval": "200ms", "timeout": "100ms"}]
            probes, registry = await engines(config(tmp_path, one, concurrency=1), on_start=hook)
            status = probes.targets.status
            await probes.start()
            await wait_for(lambda: (status("a", "a") or EMPTY).consecutive_successes >= 2)
            await probes.stop(1.0)
            labels = {"job": "probes.200ms", "outcome": "failure"}
            assert registry.get_sample_value("sre_job_runs_total", labels) == 1
            # concurrency 1: had the failed start leaked its permit, nothing would run now
            assert probes.semaphore._value == 1

    asyncio.run(go())


def test_a_backwards_clock_step_does_not_stall_the_engine(tmp_path: Path) -> None:
    async def go() -> None:
        async with Target() as target:
            url = f"http://127.0.0.1:{target.port}/healthz"
            cfg = config(
                tmp_path,
                [
                    {
                        "name": "web",
                        "service": "api",
                        "url": url,
                        "interval": "200ms",
                        "timeout": "150ms",
                    }
                ],
            )
            step = [0.0]
            probes, _ = await engines(cfg, clock=lambda: time.time() + step[0])
            status = probes.targets.status
            await probes.start()
            await wait_for(lambda: (status("api", "web") or EMPTY).consecutive_successes >= 1)
            step[0] = -3600.0  # NTP or a resumed VM moves the wall clock back an hour
            before = (status("api", "web") or EMPTY).consecutive_successes
            await wait_for(
                lambda: (status("api", "web") or EMPTY).consecutive_successes >= before + 3
            )  # raises when the engine stalls
            assert (status("api", "web") or EMPTY).consecutive_successes >= before + 3
            await probes.stop(1.0)

    asyncio.run(go())
