"""The rollback feature in-process: triggers, safety rules, dry runs, manual requests, the
audit endpoint."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from sre.checks.probe import ProbeState
from sre.clients import ClientError
from sre.features.rollback.feature import RollbackFeature
from sre.runtime.ha import LEADER, SOLO, Term
from tests.helpers.cluster import StubCluster
from tests.helpers.rollback import AUDIT, NOW, SECRET, Harness, h, settle

__all__ = ["h"]  # the fixture


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


def test_a_no_verdict_streak_does_not_carry_over_from_an_earlier_term(h: Harness) -> None:
    terms = StubCluster(Term(LEADER, 1, SOLO), shared=False)
    h.cluster = terms
    h.prom.traffic = 0.01  # no verdict: too little traffic

    async def body(f: RollbackFeature) -> None:
        for _ in range(2):
            await f.evaluate_all()
        terms.term = Term(LEADER, 2, SOLO)  # lost the lease and, hours later, led again
        for _ in range(2):
            await f.evaluate_all()
        assert not [k for k in h.notices() if k.startswith("rollback-no-verdict:")]
        await f.evaluate_all()  # three in a row in this term: warned

    h.go(body)
    assert len([k for k in h.notices() if k.startswith("rollback-no-verdict:api:")]) == 1


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
            everything = await (await client.get("/rollbacks", headers=AUDIT)).json()
            assert [r["phase"] for r in everything] == ["result", "decision"]
            assert everything[0]["time"].endswith("Z")
            one = await (await client.get("/rollbacks?service=api&limit=1", headers=AUDIT)).json()
            assert one == everything[:1]
            assert await (await client.get("/rollbacks?service=web", headers=AUDIT)).json() == []
            for headers in ({}, {"Authorization": "Bearer wrong"}):  # the audit API is not open
                refused = await client.get("/rollbacks", headers=headers)
                assert refused.status == 401 and "bearer token" in await refused.text()
            bad = await client.get("/rollbacks?limit=0", headers=AUDIT)
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


@pytest.mark.parametrize("limit", ["²", "1²", "１", "-1", "1.5", ""])
def test_rollbacks_endpoint_rejects_a_bad_limit_with_400(h: Harness, limit: str) -> None:
    async def body(f: RollbackFeature) -> None:
        app = web.Application()
        app.add_routes(f.routes())
        async with TestClient(TestServer(app)) as client:
            answer = await client.get("/rollbacks", params={"limit": limit}, headers=AUDIT)
            assert answer.status == 400
            assert (await answer.json()) == {"error": "limit must be a whole number from 1 to 1000"}

    h.go(body)


def test_what_a_rollback_command_prints_is_redacted_everywhere(tmp_path: Path) -> None:
    body = f"echo 'connecting with {SECRET}'; echo PGPASSWORD=hunter22 --token=abcdefgh"
    h = Harness(tmp_path, body=body)

    async def run(f: RollbackFeature) -> None:
        await f.evaluate_all()
        await settle(f)

    h.go(run)
    result = next(r for r in h.records() if r["phase"] == "result")
    output = result["commands"][0]["output"]
    assert SECRET not in output and "hunter22" not in output and "abcdefgh" not in output
    assert "connecting with [redacted]" in output and "PGPASSWORD=[redacted]" in output
    notice = h.notices()["rollback:api:2:result"]
    assert SECRET not in json.dumps(notice) and "[redacted]" in notice["text"]
