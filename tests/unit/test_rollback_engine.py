"""The rollback feature in-process: a fake Prometheus (canned range results), the real
command executor (a recording script), a real store; fake clock and probe reader."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from sre.checks.probe import ProbeState
from sre.clients import ClientError
from sre.clients.commands import CommandResult
from sre.clients.helm import Helm
from sre.clients.kube import Kubectl
from sre.clients.prometheus import PrometheusClient, Series
from sre.config import Config, parse_config
from sre.features.rollback.feature import RollbackFeature
from sre.features.rollback.targets import target_for
from sre.features.rollback.triggers import Triggers
from sre.runtime.notices import OutboxNotifier
from sre.runtime.store.sqlite import open_sqlite

NOW = 1_800_000_000.0


class FakePrometheus:
    """Answers each trigger query with one series of a constant value over the range."""

    def __init__(self) -> None:
        self.error = 0.2
        self.latency = 0.1
        self.traffic = 10.0
        self.fail: ClientError | None = None
        self.queries: list[str] = []

    async def query_range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        self.queries.append(query)
        if self.fail is not None:
            raise self.fail
        if query.startswith("histogram_quantile"):
            value = self.latency
        elif "code=~" in query:
            value = self.error
        else:
            value = self.traffic
        n = int((end - start) // step) + 1
        return [Series({}, tuple((start + i * step, value) for i in range(n)))]


class Probes:
    def __init__(self) -> None:
        self.states: list[ProbeState] = []

    def for_service(self, service: str) -> list[ProbeState]:
        return [s for s in self.states if s.service == service]


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def make_config(tmp: Path, **rollback: Any) -> Config:
    tmp.mkdir(parents=True, exist_ok=True)
    engine = rollback.pop("engine", {})
    record = tmp / "calls"
    script = tmp / "rollback.sh"
    script.write_text(f'#!/bin/sh\necho "$@" >> {record}\n{rollback.pop("body", "")}\n')
    script.chmod(0o755)
    revision = tmp / "revision.json"
    revision.write_text(json.dumps({"revision": "2", "previous": "1", "deployed_at": NOW - 60}))
    target: dict[str, Any] = {"kind": "command", "argv": [str(script), "api"]}
    if rollback.pop("versioned", True):
        target["revision_argv"] = ["cat", str(revision)]
    return parse_config(
        {
            "system": "t",
            "prometheus": {"url": "http://127.0.0.1:9"},
            "runbooks": {"base_url": "http://r/"},
            "services": [
                {"name": "api", "namespace": "prod", "rollback": {"target": target, **rollback}},
                {"name": "web", "namespace": "prod"},
            ],
            "daemon": {
                "state": f"sqlite:///{tmp}/state.db",
                "rollbacks": {"no_verdict_warn_after": 3, **engine},
            },
        }
    )


class Harness:
    def __init__(self, tmp: Path, **rollback: Any) -> None:
        self.tmp = tmp
        self.cfg = make_config(tmp, **rollback)
        self.clock = Clock()
        self.store = open_sqlite(tmp / "state.db", self.clock)
        self.registry = CollectorRegistry()
        self.prom = FakePrometheus()
        self.probes = Probes()

    async def feature(self, session: aiohttp.ClientSession) -> RollbackFeature:
        """Wired as ``sre.daemon.app`` wires it, with a fake Prometheus."""
        prometheus: PrometheusClient = self.prom  # type: ignore[assignment]
        services = [s for s in self.cfg.services if s.rollback is not None]
        return RollbackFeature(
            self.cfg.services,
            self.cfg.daemon.rollbacks,
            targets={s.name: target_for(s, Kubectl(), Helm()) for s in services},
            triggers=Triggers(self.cfg, prometheus, self.probes),
            store=self.store,
            notices=OutboxNotifier(self.store),
            registry=self.registry,
            clock=self.clock,
        )

    def calls(self) -> list[str]:
        path = self.tmp / "calls"
        return path.read_text().splitlines() if path.exists() else []

    def records(self) -> list[dict[str, Any]]:
        return [r.data for r in self.store.audit_list("rollback")]

    def notices(self) -> dict[str, Any]:
        with self.store.transaction() as tx:
            rows = tx.all("SELECT key, payload FROM outbox")
        return {r["key"]: json.loads(r["payload"]) for r in rows}

    def metric(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels)

    def go(self, body: Any) -> None:
        async def main() -> None:
            async with aiohttp.ClientSession() as session:
                feature = await self.feature(session)
                await body(feature)
                await feature.stop(5)

        asyncio.run(main())


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path)
    yield harness
    harness.store.close()


async def settle(feature: RollbackFeature) -> None:
    while feature.tasks:
        await asyncio.sleep(0.01)


def test_a_failing_trigger_rolls_back_once_then_freezes(h: Harness) -> None:
    async def body(f: RollbackFeature) -> None:
        for _ in range(3):
            await f.evaluate_all()
            await settle(f)
            h.clock.now += 15

    h.go(body)
    assert h.calls() == ["api"]
    phases = [(r["phase"], r["action"], r["reason"]) for r in reversed(h.records())]
    assert phases[0][:2] == ("decision", "rollback")
    assert phases[1][:2] == ("result", "rollback")
    assert phases[2] == ("decision", "none", "frozen after a rollback to 2")
    assert len(phases) == 3  # the blocked decision is recorded once, not every 15 s
    key = "rollback:api:2"
    assert h.notices()[f"{key}:result"]["thread_key"] == key
    assert h.metric("sre_rollbacks_total", service="api", trigger="error_rate", result="success")
    assert h.metric("sre_rollback_last_timestamp_seconds", service="api") == NOW


def test_missing_or_unclear_data_never_rolls_back(h: Harness) -> None:
    cases = [
        ("prometheus_unreachable", {"fail": ClientError("unreachable", "x", retryable=True)}),
        ("query_error", {"fail": ClientError("query_error", "x", retryable=False)}),
        ("query_error", {"fail": ClientError("bad_response", "x", retryable=False)}),
        ("low_traffic", {"traffic": 0.01}),
        ("nan", {"error": math.nan}),
    ]

    async def body(f: RollbackFeature) -> None:
        for reason, attrs in cases:
            h.prom.__dict__.update({"fail": None, "traffic": 10.0, "error": 0.2, **attrs})
            await f.evaluate_all()
            await settle(f)
            labels = {"service": "api", "verdict": "no_verdict", "reason": reason}
            assert h.metric("sre_rollback_evaluations_total", **labels), reason

    h.go(body)
    assert h.calls() == []
    # no_verdict_warn_after = 3: one warning for the streak, nothing rolled back.
    warnings = [k for k in h.notices() if k.startswith("rollback-no-verdict:api:")]
    assert len(warnings) == 1
    assert "nothing was rolled back" in h.notices()[warnings[0]]["text"]


def test_global_switch_and_after_deploy_block_and_say_why(tmp_path: Path) -> None:
    off = Harness(tmp_path / "off", engine={"enabled": False})
    old = Harness(tmp_path / "old", after_deploy="30s")

    async def body(f: RollbackFeature) -> None:
        await f.evaluate_all()
        await settle(f)

    for harness, reason in (
        (off, "rollbacks are switched off globally"),
        (old, "outside the after_deploy window"),
    ):
        harness.go(body)
        assert harness.calls() == []
        assert [r["reason"] for r in harness.records()] == [reason]


def test_dry_run_is_announced_once_per_revision(tmp_path: Path) -> None:
    h = Harness(tmp_path, dry_run=True)

    async def body(f: RollbackFeature) -> None:
        for _ in range(3):
            await f.evaluate_all()

    h.go(body)
    assert h.calls() == []
    assert [r["action"] for r in h.records()] == ["dry_run"]
    assert "Dry run" in h.notices()["rollback-dry-run:api:2"]["title"]
    assert h.metric("sre_rollbacks_total", service="api", trigger="error_rate", result="dry_run")


def test_health_counts_only_failures_that_began_after_the_deploy(h: Harness) -> None:
    h.prom.error = 0.0
    down = ProbeState("api", "health", up=False, consecutive_failures=5, since=NOW - 600)

    async def body(f: RollbackFeature) -> None:
        h.probes.states = [down]  # failing since before the deploy (NOW - 60)
        await f.evaluate_all()
        assert h.calls() == []
        h.probes.states = [ProbeState("api", "health", False, 3, 0, since=NOW - 30)]
        await f.evaluate_all()
        await settle(f)

    h.go(body)
    assert h.calls() == ["api"]
    assert h.records()[-1]["trigger"] == "health"


def test_manual_request_uses_the_same_executor_and_safety(h: Harness) -> None:
    answers: list[str] = []

    async def body(f: RollbackFeature) -> None:
        h.prom.error = 0.0  # healthy: a person still may roll back
        assert f.has_target("api") and not f.has_target("web")
        answers.append(await f.request("web", requested_by="U1", reason="x"))
        answers.append(await f.request("api", requested_by="slack:U1", reason="bad deploy"))
        answers.append(await f.request("api", requested_by="slack:U2", reason="again"))

    h.go(body)
    assert answers[0] == "web has no rollback target"
    assert answers[1].startswith("rolled back api from revision 2: success")
    assert answers[2] == "api not rolled back: frozen after a rollback to 2"
    assert h.calls() == ["api"]
    decision = h.records()[-1]
    assert decision["requested_by"] == "slack:U1" and decision["trigger"] == "manual"
    assert h.metric("sre_rollbacks_total", service="api", trigger="manual", result="success")


def test_one_rollback_at_a_time(tmp_path: Path) -> None:
    h = Harness(tmp_path, body="sleep 0.5")
    answers: list[str] = []

    async def body(f: RollbackFeature) -> None:
        await f.evaluate_all()  # starts the slow rollback in the background
        await asyncio.sleep(0.1)
        answers.append(await f.request("api", requested_by="U", reason="now"))
        await settle(f)

    h.go(body)
    assert answers == ["a rollback of api is already running"]
    assert h.calls() == ["api"]


def test_without_a_revision_source_each_episode_rolls_back_once(tmp_path: Path) -> None:
    h = Harness(tmp_path, versioned=False, cooldown="0s")

    async def body(f: RollbackFeature) -> None:
        for error in (0.2, 0.2, 0.0, 0.2):  # fail, (frozen), recovered, fail again
            h.prom.error = error
            await f.evaluate_all()
            await settle(f)

    h.go(body)
    assert h.calls() == ["api", "api"]
    revisions = [r["revision"] for r in reversed(h.records()) if r["action"] == "rollback"]
    assert revisions == ["episode-1", "episode-1", "episode-2", "episode-2"]


def test_rollbacks_endpoint(h: Harness) -> None:
    async def body(f: RollbackFeature) -> None:
        await f.evaluate_all()
        await settle(f)
        app = web.Application()
        app.add_routes(f.routes())
        async with TestClient(TestServer(app)) as client:
            everything = await (await client.get("/rollbacks")).json()
            assert [r["phase"] for r in everything] == ["result", "decision"]
            assert everything[0]["time"].endswith("Z")
            one = await (await client.get("/rollbacks?service=api&limit=1")).json()
            assert one == everything[:1]
            assert await (await client.get("/rollbacks?service=web")).json() == []
            bad = await client.get("/rollbacks?limit=0")
            assert bad.status == 400 and "limit" in (await bad.json())["error"]

    h.go(body)


def test_an_unknown_revision_never_rolls_back(h: Harness) -> None:
    (h.tmp / "revision.json").write_text("kubectl: connection refused")

    async def body(f: RollbackFeature) -> None:
        await f.evaluate_all()
        await settle(f)
        assert await f.request("api", requested_by="U", reason="x") == (
            "api not rolled back: current revision unknown"
        )

    h.go(body)
    assert h.calls() == []
    assert [r["reason"] for r in h.records()] == ["current revision unknown"] * 2


def restart(h: Harness) -> None:
    """A new daemon on the same store: fresh metrics, locks and in-memory state."""
    h.registry = CollectorRegistry()
    h.clock.now += 15


def test_a_daemon_killed_mid_rollback_does_not_roll_back_again_after_restart(
    h: Harness,
) -> None:
    started: list[tuple[str, ...]] = []

    async def killed(f: RollbackFeature) -> None:
        target = f.targets["api"]

        async def hangs(timeout: float) -> list[CommandResult]:
            started.append(tuple(target.describe()["argv"]))  # it ran; it never returns
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

        target.roll_back = hangs  # type: ignore[method-assign]
        await f.evaluate_all()
        while not started:
            await asyncio.sleep(0.01)
        for task in list(f.tasks):  # the daemon dies here
            task.cancel()
        await asyncio.gather(*f.tasks, return_exceptions=True)

    h.go(killed)
    assert len(started) == 1
    assert [r["phase"] for r in h.records()] == ["decision"]  # no result: it died
    # The rollback took effect: the Deployment is now at 3 (revision 1's template).
    (h.tmp / "revision.json").write_text(
        json.dumps({"revision": "3", "previous": "2", "deployed_at": h.clock.now})
    )
    restart(h)

    async def after(f: RollbackFeature) -> None:
        for _ in range(3):
            await f.evaluate_all()
            await settle(f)
            h.clock.now += 15

    h.go(after)
    assert h.calls() == []  # the new daemon ran nothing
    assert h.records()[0]["reason"] == "frozen after a rollback to 3"


def test_a_burst_shorter_than_for_does_not_roll_back(h: Harness) -> None:
    # for = 2m, rate_window = 1m (the defaults): 68 s of 100% errors made every sample
    # of a range query over [now - for, now] breach. Each error-ratio sample here is the
    # burst's share of the rate window ending at it.
    burst = [NOW - 124, NOW - 56]

    def value(query: str, t: float) -> float:
        if query.startswith("histogram_quantile"):
            return 0.1
        if "code=~" not in query:
            return 10.0  # requests/s
        return max(0.0, min(t, burst[1]) - max(t - 60, burst[0])) / 60

    async def query_range(query: str, start: float, end: float, step: float) -> list[Series]:
        times = [start + i * step for i in range(int((end - start) // step) + 1)]
        return [Series({}, tuple((t, value(query, t)) for t in times))]

    h.prom.query_range = query_range  # type: ignore[method-assign]

    async def body(f: RollbackFeature) -> None:
        await f.evaluate_all()
        await settle(f)
        assert h.calls() == []
        burst[:] = [NOW - 10_000, NOW]  # sustained: still rolls back
        await f.evaluate_all()
        await settle(f)

    h.go(body)
    assert h.calls() == ["api"]
    passed = {"service": "api", "verdict": "pass", "reason": "ok"}
    assert h.metric("sre_rollback_evaluations_total", **passed) == 1


def test_the_global_switch_announces_once_per_revision(tmp_path: Path) -> None:
    h = Harness(tmp_path, engine={"enabled": False})

    async def evaluate(f: RollbackFeature) -> None:
        for _ in range(3):
            await f.evaluate_all()
            await settle(f)

    h.go(evaluate)
    restart(h)
    h.go(evaluate)  # a restart does not announce the same revision again
    assert h.calls() == []
    key = "rollback-switched-off:api:2"
    assert [k for k in h.notices() if k.startswith("rollback-switched-off:")] == [key]
    notice = h.notices()[key]
    assert notice["title"] == "Rollbacks switched off: would roll back api from revision 2 to 1"
    assert "Nothing was run (daemon.rollbacks.enabled is false)" in notice["text"]
    assert [r["reason"] for r in h.records()] == ["rollbacks are switched off globally"]
    (h.tmp / "revision.json").write_text(
        json.dumps({"revision": "3", "previous": "2", "deployed_at": h.clock.now})
    )
    restart(h)
    answers: list[str] = []

    async def new_revision(f: RollbackFeature) -> None:
        await evaluate(f)
        answers.append(await f.request("api", requested_by="slack:U1", reason="bad"))

    h.go(new_revision)
    assert h.calls() == []
    assert "rollback-switched-off:api:3" in h.notices()
    assert answers == ["api not rolled back: rollbacks are switched off globally"]
    manual = [k for k in h.notices() if k.startswith("rollback-switched-off:api:3:")]
    assert len(manual) == 1  # a person asking is always answered in Slack too
    assert len(h.records()) == 3


@pytest.mark.parametrize("limit", ["²", "1²", "１", "-1", "1.5", ""])
def test_rollbacks_endpoint_rejects_a_bad_limit_with_400(h: Harness, limit: str) -> None:
    async def body(f: RollbackFeature) -> None:
        app = web.Application()
        app.add_routes(f.routes())
        async with TestClient(TestServer(app)) as client:
            answer = await client.get("/rollbacks", params={"limit": limit})
            assert answer.status == 400
            assert (await answer.json()) == {"error": "limit must be a whole number from 1 to 1000"}

    h.go(body)
