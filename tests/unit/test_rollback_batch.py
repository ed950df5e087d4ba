"""Batched trigger evaluation: one cycle asks a bounded number of queries, and every service
gets exactly the verdicts a query of its own would have given."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from benchmarks.scale import generate
from sre.checks.rollback import TriggerVerdict
from sre.clients import ClientError
from sre.clients.prometheus import PrometheusClient, Series
from sre.config import Config, load_config, parse_config
from sre.features.rollback.feature import RollbackFeature
from sre.features.rollback.queries import (
    MAX_WINDOWS,
    batches,
    merged_spans,
    span,
    trigger_queries,
)
from sre.features.rollback.triggers import Triggers
from tests.helpers.rollback import Harness, Probes, services_in

NOW = 1_800_000_000.123  # not on a whole second: timestamps are rounded to milliseconds
Value = Callable[[str, float], float | None]  # (service, t) -> value, None: no series


def rollback(**kw: Any) -> dict[str, Any]:
    return {"target": {"kind": "deployment", "name": "x"}, **kw}


def burst(start: float, end: float, share: float = 1.0) -> Value:
    """The error ratio at t of a burst of ``share`` 5xx from NOW-start to NOW-end, seen
    through a 1m rate window."""
    return lambda _, t: share * max(0.0, min(t, NOW - end) - max(t - 60, NOW - start)) / 60


def const(value: float | None) -> Value:
    return lambda _, t: value


FAST, BUSY, OK = const(0.1), const(10.0), const(0.0)
Scenario = tuple[dict[str, Any], Value, Value, Value, dict[str, str]]
# Each service a scenario: (its rollback block, error ratio, latency, traffic, expected).
SCENARIOS: dict[str, Scenario] = {
    "hot": (rollback(), const(0.2), FAST, BUSY, {"error_rate": "fail"}),
    "calm": (rollback(), OK, FAST, BUSY, {"error_rate": "pass"}),
    # 170 s of errors: fails a 1m30s window (the range reaches back 150 s), not a 2m one.
    "short-for": (rollback(**{"for": "90s"}), burst(170, 0), FAST, BUSY, {"error_rate": "fail"}),
    "burst": (rollback(), burst(170, 0), FAST, BUSY, {"error_rate": "pass"}),
    "long": (rollback(**{"for": "5m"}), burst(200, 0), FAST, BUSY, {"error_rate": "pass"}),
    "long-hot": (rollback(**{"for": "1h"}), const(0.3), FAST, BUSY, {"error_rate": "fail"}),
    "strict": (rollback(error_rate_above=0.01), const(0.02), FAST, BUSY, {"error_rate": "fail"}),
    "lenient": (rollback(error_rate_above=0.5), const(0.2), FAST, BUSY, {"error_rate": "pass"}),
    "quiet": (rollback(), const(0.2), FAST, const(0.01), {"error_rate": "no_verdict"}),
    "busy-only": (
        rollback(min_request_rate=50),
        const(0.2),
        FAST,
        BUSY,
        {"error_rate": "no_verdict"},
    ),
    "broken": (rollback(), const(math.nan), FAST, BUSY, {"error_rate": "no_verdict"}),
    "gone": (rollback(), const(None), const(None), const(None), {"error_rate": "no_verdict"}),
    "late": (
        rollback(**{"for": "10m"}),
        lambda _, t: 0.2 if t > NOW - 300 else None,  # data for the last 5 minutes only
        FAST,
        BUSY,
        {"error_rate": "no_verdict"},
    ),
    "slow": (
        rollback(error_rate_above=None, latency_p95_above_seconds=1.0),
        const(0.2),
        const(2.0),
        BUSY,
        {"latency": "fail"},
    ),
    "both": (
        rollback(latency_p95_above_seconds=1.0, **{"for": "3m"}),
        OK,
        const(2.0),
        BUSY,
        {"error_rate": "pass", "latency": "fail"},
    ),
    "probed-only": (rollback(error_rate_above=None), const(0.2), FAST, BUSY, {}),
}


def config(services: dict[str, dict[str, Any]]) -> Config:
    return parse_config(
        {
            "system": "t",
            "prometheus": {"url": "http://127.0.0.1:9"},
            "runbooks": {"base_url": "http://r/"},
            "selectors": {"applications": 'job="apps"'},
            "services": [
                {"name": name, "namespace": "prod", "rollback": rb} for name, rb in services.items()
            ],
        }
    )


class Prometheus:
    """Answers range queries as Prometheus does (samples at start + k * step up to end, one
    series per service asked for), from the scenarios' values."""

    def __init__(self) -> None:
        self.queries: list[str] = []
        self.fail: Callable[[str], ClientError | None] = lambda _: None

    async def query_range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        self.queries.append(query)
        error = self.fail(query)
        if error is not None:
            raise error
        index = 2 if query.startswith("histogram_quantile") else 1 if "code=~" in query else 3
        first = round(start, 3)  # the client sends milliseconds
        out = []
        for name in services_in(query):
            value = SCENARIOS[name][index]
            points = []
            for k in range(int((end - first) / step + 1e-9) + 1):
                t = round(first + k * step, 3)
                v = value(name, t)  # type: ignore[operator]
                if v is not None:
                    points.append((t, v))
            if points:
                out.append(Series({"service": name}, tuple(points)))
        return out


def triggers(cfg: Config) -> tuple[Triggers, Prometheus]:
    prom = Prometheus()
    client: PrometheusClient = prom  # type: ignore[assignment]
    return Triggers(cfg, client, Probes()), prom


def alone(cfg: Config, prom: Prometheus, t: Triggers) -> dict[str, list[TriggerVerdict]]:
    """Each service judged with queries of its own, one after the other."""

    async def go() -> dict[str, list[TriggerVerdict]]:
        return {s.name: (await t.verdicts(s, None, NOW))[0] for s in cfg.services}

    return asyncio.run(go())


def test_every_service_gets_the_verdicts_of_its_own_queries() -> None:
    cfg = config({name: s[0] for name, s in SCENARIOS.items()})
    t, prom = triggers(cfg)
    cycle = asyncio.run(t.judge(cfg.services, NOW))
    batched_queries = len(prom.queries)
    prom.queries.clear()
    expected = alone(cfg, prom, t)
    # Six windows (90s, 2m, 3m, 5m, 10m, 1h) read as three (2m, 10m, 1h): traffic and
    # error ratio in each, latency in the two that hold a latency trigger.
    assert [b.span for b in batches(cfg, cfg.services)] == [3660, 660, 180]
    assert batched_queries == cycle.queries == 8 <= 3 * MAX_WINDOWS
    # Alone: traffic and one trigger each, two for "both", none for "probed-only".
    assert len(prom.queries) == 31
    for name, (_, _, _, _, outcomes) in SCENARIOS.items():
        got = cycle.verdicts[name]
        assert {v.trigger: v.outcome for v in got} == outcomes, name
        assert got == expected[name], name
        # The audit trail shows the service's own query, not the batch.
        assert all(f'service="{name}"' in v.query for v in got)
    assert [v.reason for v in cycle.verdicts["late"]] == ["window_not_covered"]
    assert [v.reason for v in cycle.verdicts["gone"]] == ["no_data"]
    assert [v.reason for v in cycle.verdicts["quiet"]] == ["low_traffic"]
    assert [v.reason for v in cycle.verdicts["busy-only"]] == ["low_traffic"]
    assert [v.reason for v in cycle.verdicts["broken"]] == ["nan"]
    own = span(cfg, cfg.services[0])
    assert cycle.windows["hot"] == {
        "start": NOW - own,
        "end": NOW,
        "step": 15.0,
        "rate_window": 60.0,
    }


FAILING: dict[str, Callable[[str], bool]] = {
    "error ratio": lambda q: "code=~" in q,
    "traffic": lambda q: q.startswith("sum by (service) (rate("),
    "every": lambda q: True,
}


@pytest.mark.parametrize(
    ("which", "error", "reason"),
    [
        ("error ratio", ClientError("query_error", "x", retryable=False), "query_error"),
        ("every", ClientError("unreachable", "refused", retryable=True), "prometheus_unreachable"),
        ("every", ClientError("partial_answer", "store down", retryable=True), "query_error"),
        ("traffic", ClientError("bad_response", "x", retryable=False), "query_error"),
    ],
)
def test_a_failed_query_is_no_verdict_for_every_service_it_covers(
    which: str, error: ClientError, reason: str
) -> None:
    cfg = config({name: s[0] for name, s in SCENARIOS.items()})
    t, prom = triggers(cfg)
    prom.fail = lambda q: error if FAILING[which](q) else None
    cycle = asyncio.run(t.judge(cfg.services, NOW))
    assert cycle.failed == {"error ratio": 3, "traffic": 3, "every": 8}[which]
    for name, verdicts in cycle.verdicts.items():
        for v in verdicts:
            if v.trigger == "error_rate" or which != "error ratio":
                assert (v.outcome, v.reason) == ("no_verdict", reason), name
    # The latency query was answered: its services are still judged.
    if which == "error ratio":
        assert [v.outcome for v in cycle.verdicts["slow"]] == ["fail"]
        assert [v.outcome for v in cycle.verdicts["both"]] == ["no_verdict", "fail"]


def test_a_service_without_prometheus_triggers_asks_nothing() -> None:
    cfg = config({"probed-only": rollback(error_rate_above=None)})
    t, prom = triggers(cfg)
    verdicts, window = asyncio.run(t.verdicts(cfg.services[0], None, NOW))
    assert verdicts == [] and prom.queries == []
    assert window["end"] == NOW


def test_one_service_asks_exactly_its_own_queries() -> None:
    cfg = config({"both": SCENARIOS["both"][0]})
    (batch,) = batches(cfg, cfg.services)
    assert batch.queries == trigger_queries(cfg, cfg.services[0])
    assert 'service="both"' in batch.queries.traffic


def test_500_services_of_the_scale_config_take_a_few_queries(tmp_path: Path) -> None:
    cfg = load_config(generate.write(tmp_path, 500))
    plan = batches(cfg, cfg.services)
    kinds = [
        q for b in plan for q in (b.queries.traffic, b.queries.error_ratio, b.queries.latency_p95)
    ]
    queries = [q for q in kinds if q is not None]
    # Two `for` values (2m, 5m), each with traffic, error rate and latency services.
    assert len(plan) == 2 and len(queries) == 6
    judged = {name for b in plan for name in b.services}
    assert judged == {s.name for s in cfg.services if s.rollback is not None}
    assert len(judged) == 250


@pytest.mark.parametrize(
    ("spans", "most", "read"),
    [
        ([(60, 1), (120, 5)], 3, [60, 120]),
        # Four windows into three: the cheapest merge is 120 into 180 (1 service re-reads).
        ([(60, 100), (120, 1), (180, 100), (3600, 1)], 3, [60, 180, 180, 3600]),
        # One service with a 1h window must not make 500 others read an hour.
        ([(60, 500), (90, 10), (120, 10), (3600, 1)], 2, [120, 120, 120, 3600]),
        ([(60, 1), (120, 1), (180, 1)], 1, [180, 180, 180]),
    ],
)
def test_windows_merge_where_it_reads_the_least(
    spans: list[tuple[float, int]], most: int, read: list[float]
) -> None:
    assert merged_spans(spans, most) == read


def test_the_feature_evaluates_200_services_with_two_queries_a_cycle(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    target = {"kind": "command", "argv": ["true"]}
    names = [f"svc-{i:03d}" for i in range(200)]
    h.cfg = parse_config(
        {
            "system": "t",
            "prometheus": {"url": "http://127.0.0.1:9"},
            "runbooks": {"base_url": "http://r/"},
            "services": [
                {"name": n, "namespace": "prod", "rollback": {"target": target}} for n in names
            ],
            "daemon": {"state": f"sqlite:///{tmp_path}/state.db"},
        }
    )
    h.prom.error = 0.0

    async def body(f: RollbackFeature) -> None:
        await f.evaluate_all()
        h.prom.fail = ClientError("unreachable", "refused", retryable=True)
        await f.evaluate_all()

    h.go(body)
    h.store.close()
    assert len(h.prom.queries) == 4  # traffic and error ratio, once per cycle
    assert h.metric("sre_rollback_queries_total", result="ok") == 2
    assert h.metric("sre_rollback_queries_total", result="error") == 2
    for name in (names[0], names[-1]):
        passed = {"service": name, "verdict": "pass", "reason": "ok"}
        unclear = {"service": name, "verdict": "no_verdict", "reason": "prometheus_unreachable"}
        assert h.metric("sre_rollback_evaluations_total", **passed) == 1
        assert h.metric("sre_rollback_evaluations_total", **unclear) == 1
    assert h.calls() == []
