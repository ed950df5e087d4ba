"""Auto-rollback end to end: the REAL daemon process, a REAL Prometheus scraping a synthetic
service every second, the command executor as a recording script, and kubectl / helm
stand-ins on PATH that record their arguments.

One daemon run (module fixture, ~30 s) watches eight services at once, each a scenario:

========== ============================================ ==================================
service    traffic                                      expected
========== ============================================ ==================================
sustained  20% 5xx from the start                       exactly one rollback (command)
spike      healthy, one 2 s burst of 50% 5xx            none (shorter than ``for`` 8 s)
slow       p95 ~2.4 s, no errors                        one rollback (latency trigger)
idle       counters exist, no requests                  none, no-verdict ``low_traffic``
broken     the 5xx counter is NaN                       none, no-verdict ``nan``
dry        20% 5xx, ``dry_run: true``                   decision recorded, nothing runs
kube       20% 5xx, kind deployment                     kubectl undo + status, exactly
helmed     20% 5xx, kind helm                           helm rollback 1 --wait, exactly
========== ============================================ ==================================

A second daemon, at the same time, points at a Prometheus that is not there: no rollback.
Then the first daemon is restarted on the same state store (with its freeze/cooldown rows
deleted, so only the idempotency keys stand in the way): nothing is rolled back again.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
from typing import Any

import aiohttp
import pytest

from sre.checks.probe import ProbeState
from sre.checks.rollback import TriggerVerdict
from sre.clients import ClientError
from sre.clients.prometheus import PrometheusClient
from sre.config import parse_config
from sre.devtools.synthetic import calls
from sre.features.rollback.triggers import Cycle, Triggers
from tests.helpers import free_port
from tests.helpers.daemon import API_TOKEN, ROOT, DaemonProcess
from tests.integration.rollback_run import (
    ROLLED,
    Run,
    decisions,
    invocations,
    run,
    sample,
)

__all__ = ["run"]  # the fixture
pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def test_sustained_error_rate_rolls_back_exactly_once(run: Run) -> None:
    assert invocations(run.record).count("sustained") == 1, run.log
    assert (
        sample(
            run.metrics,
            "sre_rollbacks_total",
            service="sustained",
            trigger="error_rate",
            result="success",
        )
        == 1.0
    )
    (decision,) = decisions(run, "sustained", "rollback")
    error = next(v for v in decision["verdicts"] if v["trigger"] == "error_rate")
    assert error["outcome"] == "fail"
    assert error["threshold"] == 0.05
    assert 'code=~"5.."' in error["query"] and 'service="sustained"' in error["query"]
    assert len(error["values"]) >= 8 and min(error["values"]) > 0.05
    assert decision["revision"] == "2" and decision["previous"] == "1"
    (result,) = [r for r in run.rollbacks if r["service"] == "sustained" and r["phase"] == "result"]
    assert result["result"] == "success"
    assert result["commands"][0]["exit_code"] == 0
    assert "rolled back sustained" in result["commands"][0]["output"]
    assert result["revision_after"] == "2"  # frozen on it until another revision appears
    assert sample(run.metrics, "sre_rollback_last_timestamp_seconds", service="sustained")


def test_a_spike_shorter_than_the_window_rolls_nothing_back(run: Run) -> None:
    assert "spike" not in invocations(run.record)
    assert (
        sample(
            run.metrics,
            "sre_rollbacks_total",
            service="spike",
            trigger="error_rate",
            result="success",
        )
        == 0.0
    )  # exported at 0 from the start
    assert not [r for r in run.rollbacks if r["service"] == "spike"]


def test_high_latency_rolls_back_once(run: Run) -> None:
    assert invocations(run.record).count("slow") == 1
    (decision,) = decisions(run, "slow", "rollback")
    assert decision["trigger"] == "latency"
    latency = next(v for v in decision["verdicts"] if v["trigger"] == "latency")
    assert latency["query"].startswith("histogram_quantile(0.95")
    assert min(latency["values"]) > 1.0


@pytest.mark.parametrize(("name", "reason"), [("idle", "low_traffic"), ("broken", "nan")])
def test_no_traffic_and_nan_roll_nothing_back(run: Run, name: str, reason: str) -> None:
    assert name not in invocations(run.record)
    assert not decisions(run, name, "rollback")
    count = sample(
        run.metrics,
        "sre_rollback_evaluations_total",
        service=name,
        verdict="no_verdict",
        reason=reason,
    )
    assert count is not None and count >= 5
    assert (
        sample(
            run.metrics,
            "sre_rollback_evaluations_total",
            service=name,
            verdict="fail",
            reason="error_rate",
        )
        is None
    )


def test_prometheus_down_rolls_nothing_back(run: Run) -> None:
    assert run.down_calls == []
    count = sample(
        run.down_metrics,
        "sre_rollback_evaluations_total",
        service="down",
        verdict="no_verdict",
        reason="prometheus_unreachable",
    )
    assert count is not None and count >= 5


def test_dry_run_records_and_announces_but_runs_nothing(run: Run) -> None:
    assert "dry" not in invocations(run.record)
    (decision,) = decisions(run, "dry", "dry_run")
    assert decision["dry_run"] is True and decision["trigger"] == "error_rate"
    assert (
        sample(
            run.metrics,
            "sre_rollbacks_total",
            service="dry",
            trigger="error_rate",
            result="dry_run",
        )
        == 1.0
    )
    keys = outbox_keys(run)
    assert "rollback-dry-run:dry:2" in keys


def test_kubectl_and_helm_run_exactly_the_documented_command_lines(run: Run) -> None:
    kubectl = [c for c in calls(run.standins, "kubectl") if c[0] != "get"]
    helm = [c for c in calls(run.standins, "helm") if c[0] != "history"]
    assert kubectl == [
        ["rollout", "undo", "deployment/kube", "-n", "ns", "--to-revision=2"],
        ["rollout", "status", "deployment/kube", "-n", "ns", "--timeout=30s"],
    ]
    assert helm == [["rollback", "helmed-rel", "1", "-n", "ns", "--wait", "--timeout", "30s"]]
    reads = calls(run.standins, "kubectl")
    assert ["get", "deployment/kube", "-n", "ns", "-o", "json"] in reads
    assert ["get", "replicasets", "-n", "ns", "-l", "app=kube", "-o", "json"] in reads
    assert ["history", "helmed-rel", "-n", "ns", "-o", "json"] in calls(run.standins, "helm")
    (kube,) = decisions(run, "kube", "rollback")
    assert (kube["revision"], kube["previous"]) == ("3", "2")
    (helmed,) = decisions(run, "helmed", "rollback")
    assert (helmed["revision"], helmed["previous"]) == ("2", "1")


def test_audit_endpoint_lists_newest_first_and_filters(run: Run) -> None:
    ids = [r["id"] for r in run.rollbacks]
    assert ids == sorted(ids, reverse=True)
    assert {r["service"] for r in run.rollbacks} >= {*ROLLED, "dry"}
    assert len(run.filtered) == 1 and run.filtered[0]["service"] == "kube"
    # The newest kube record: the failing trigger after the rollback, blocked by the freeze.
    assert run.filtered[0]["action"] == "none"
    assert run.filtered[0]["reason"] == "frozen after a rollback to 3"


def outbox_keys(run: Run) -> dict[str, Any]:
    with sqlite3.connect(run.tmp / "state.db") as db:
        rows = db.execute("SELECT key, payload FROM outbox WHERE topic = 'notice'").fetchall()
    return {key: json.loads(payload) for key, payload in rows}


def test_slack_notices_announce_then_thread_the_result(run: Run) -> None:
    keys = outbox_keys(run)
    for name, rev in (("sustained", "2"), ("slow", "2"), ("kube", "3"), ("helmed", "2")):
        announce = keys[f"rollback:{name}:{rev}"]
        assert "Rolling back" in announce["title"]
        assert announce["labels"]["source"] == "rollback"
        result = keys[f"rollback:{name}:{rev}:result"]
        assert result["thread_key"] == f"rollback:{name}:{rev}"
        assert "succeeded" in result["title"]
    warnings = [k for k in keys if k.startswith("rollback-no-verdict:idle:")]
    assert warnings, sorted(keys)


def test_audit_cli(run: Run) -> None:
    path = run.tmp / "sre.yaml"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "sre.daemon",
            "audit",
            "--config",
            str(path),
            "--service",
            "kube",
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    records = json.loads(out.stdout)
    assert [(r["phase"], r["action"]) for r in records] == [
        ("decision", "none"),  # frozen
        ("result", "rollback"),
        ("decision", "rollback"),
    ]
    assert records == [r for r in run.rollbacks if r["service"] == "kube"]
    text = subprocess.run(
        [sys.executable, "-m", "sre.daemon", "audit", "--config", str(path), "--limit", "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert text[0].startswith("time") and len(text) == 4


def test_idempotency_key_holds_across_a_restart(run: Run) -> None:
    # Forget the freeze and the cooldown: only the idempotency keys remain.
    with sqlite3.connect(run.tmp / "state.db") as db:
        db.execute("DELETE FROM rollback_state")
    before = len(invocations(run.record)), len(calls(run.standins))
    cfg = {**run.cfg, "daemon": {**run.cfg["daemon"], "listen": f"127.0.0.1:{free_port()}"}}
    daemon = DaemonProcess(run.tmp, cfg, env=run.env, name="restart.yaml")
    daemon.wait_ready()
    deadline = time.monotonic() + 20
    blocked: list[dict[str, Any]] = []
    while time.monotonic() < deadline and len(blocked) < len(ROLLED):
        records = json.loads(daemon.get("/rollbacks?limit=200", API_TOKEN)[1])
        blocked = [
            r
            for r in records
            if r["action"] == "none"
            and r["reason"].startswith("already rolled back from")
            and r["service"] in ROLLED
        ]
        time.sleep(0.5)
    time.sleep(2)
    assert daemon.stop() == 0
    assert {r["service"] for r in blocked} == set(ROLLED), daemon.output()
    assert len(invocations(run.record)) == before[0]
    mutations = [c for c in calls(run.standins) if c[0] in ("rollout", "rollback")]
    assert len(mutations) == 3  # undo + status + helm rollback, all from the first run


def test_each_cycle_asks_three_queries_for_eight_services(run: Run) -> None:
    # One `for` for all: traffic, error ratio and latency, each over every service at once.
    runs = sample(run.metrics, "sre_job_runs_total", job="rollback.evaluate", outcome="success")
    ok = sample(run.metrics, "sre_rollback_queries_total", result="ok")
    error = sample(run.metrics, "sre_rollback_queries_total", result="error")
    assert runs and ok is not None and error == 0.0
    assert runs <= ok <= 3 * (runs + 1), (ok, runs)  # 3 x 8 each, before the batching
    assert sample(run.down_metrics, "sre_rollback_queries_total", result="error")


def test_batched_verdicts_are_those_of_one_service_at_a_time(run: Run) -> None:
    # Different windows, so the longer range is cut per service; the same `now` for both.
    windows = {"sustained": "8s", "slow": "20s", "idle": "5s", "broken": "12s", "spike": "30s"}
    services = [
        {**s, "rollback": {**s["rollback"], "for": windows[s["name"]]}}
        for s in run.cfg["services"]
        if s["name"] in windows
    ]
    cfg = parse_config({**run.cfg, "services": services})
    now = time.time() - 2  # every sample up to now has been scraped

    async def go() -> tuple[Cycle, dict[str, list[TriggerVerdict]]]:
        async with aiohttp.ClientSession() as session:
            triggers = Triggers(cfg, PrometheusClient(run.prometheus.url, session), NoProbes())
            cycle = await triggers.judge(cfg.services, now)
            alone = {s.name: (await triggers.verdicts(s, None, now))[0] for s in cfg.services}
            return cycle, alone

    cycle, alone = asyncio.run(go())
    assert cycle.queries == 3 * 3 and cycle.failed == 0  # five windows read as three
    for name in windows:
        assert cycle.verdicts[name] == alone[name], name
    outcomes = {n: [(v.trigger, v.outcome, v.reason) for v in vs] for n, vs in alone.items()}
    assert outcomes["sustained"][0][:2] == ("error_rate", "fail")
    assert outcomes["slow"][1][:2] == ("latency", "fail")
    assert outcomes["idle"][0][2] == "low_traffic" and outcomes["broken"][0][2] == "nan"
    assert [o[1] for o in outcomes["spike"]] == ["pass", "pass"]


class NoProbes:
    async def for_service(self, service: str) -> list[ProbeState]:
        return []


def test_the_client_against_the_real_prometheus(run: Run) -> None:
    async def go() -> tuple[int, str]:
        async with aiohttp.ClientSession() as session:
            client = PrometheusClient(run.prometheus.url, session)
            now = time.time()
            series = await client.query_range(
                'sum(rate(http_requests_total{service="idle"}[3s]))', now - 5, now, 1
            )
            try:
                await client.query("sum(rate(http_requests_total[3s])")  # unbalanced
            except ClientError as err:
                return len(series[0].points), err.reason
            return len(series[0].points), "no error"

    points, reason = asyncio.run(go())
    assert points >= 4
    assert reason == "query_error"
