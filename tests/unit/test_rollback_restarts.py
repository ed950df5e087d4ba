"""The rollback feature across restarts and odd data: killed mid-rollback, bursts shorter than
``for``, the global switch announcing once per revision."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from prometheus_client import CollectorRegistry

from sre.clients.commands import CommandResult
from sre.clients.prometheus import Series
from sre.features.rollback.feature import RollbackFeature
from tests.helpers.rollback import NOW, Harness, by_service, h, settle

__all__ = ["h"]  # the fixture


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

        async def hangs(to: str, timeout: float) -> list[CommandResult]:
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
        return by_service(query, ((t, value(query, t)) for t in times))

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
