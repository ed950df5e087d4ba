"""The cost feature with a fake Cost Explorer: caching, metrics, notices once per day."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sre.checks.cost import DailyCost
from sre.clients import ClientError
from sre.clients.aws import AwsClient
from sre.features.cost.feature import CostFeature
from tests.helpers.bench import Bench, FixedClock, built, notices, sample
from tests.helpers.bench import bench as bench_for

TODAY = date(2026, 11, 15)
NOON = datetime(2026, 11, 15, 12, tzinfo=UTC).timestamp()
COST = {
    "schedule": "0 7 * * *",
    "daily_budget_usd": 500,
    "monthly_budget_usd": 12000,
    "anomaly": {"lookback_days": 14, "min_increase_usd": 50, "ratio": 1.5},
}
AWS = {"region": "us-west-2", "endpoint_url": "http://127.0.0.1:9"}


class FakeCE(AwsClient):
    def __init__(self, costs: list[DailyCost], forecast: float | None = None) -> None:
        super().__init__("us-west-2", "http://127.0.0.1:9")
        self.costs = costs
        self.forecast_usd = forecast
        self.windows: list[tuple[date, date]] = []

    async def cost_and_usage(self, start: date, end: date) -> list[DailyCost]:
        assert self.on_request is not None
        self.on_request("ce", "get_cost_and_usage")
        self.windows.append((start, end))
        return [c for c in self.costs if start <= c.day < end]

    async def cost_forecast(self, start: date, end: date) -> float:
        assert self.on_request is not None
        self.on_request("ce", "get_cost_forecast")
        if self.forecast_usd is None:
            raise ClientError("server_error", "ce.get_cost_forecast: 500", retryable=True)
        return self.forecast_usd


def history(values: dict[str, float], days: int = 20, **overrides: float) -> list[DailyCost]:
    out = []
    for back in range(1, days + 1):
        day = TODAY - timedelta(days=back)
        for service, usual in values.items():
            usd = overrides.get(service, usual) if back == 1 else usual
            out.append(DailyCost(day, service, usd))
    return out


def run(tmp: Path, client: FakeCE, check: Any, clock: float = NOON, **cost: Any) -> None:
    async def go() -> None:
        async with bench_for(tmp, FixedClock(clock), aws=AWS, cost={**COST, **cost}) as bench:
            feature = bench.cost(client)
            await check(bench, feature)

    asyncio.run(go())


def test_build_is_off_without_the_section(tmp_path: Path) -> None:
    async def go() -> None:
        async with bench_for(tmp_path, FixedClock(NOON)) as bench:
            assert not [f for f in await built(bench) if isinstance(f, CostFeature)]
        async with bench_for(tmp_path, FixedClock(NOON), aws=AWS, cost=COST) as bench:
            [feature] = [f for f in await built(bench) if isinstance(f, CostFeature)]
            [job] = feature.jobs()
            assert job.id == "cost.daily" and job.run_at_start

    asyncio.run(go())


def test_normal_days_publish_yesterday_and_are_cached(tmp_path: Path) -> None:
    client = FakeCE(history({"EC2": 100.0, "S3": 20.0}))

    async def check(bench: Bench, feature: CostFeature) -> None:
        report = await feature.check()
        assert report is not None and report.anomalies == [] and report.breaches == []
        assert client.windows == [(date(2026, 10, 31), TODAY)]  # lookback reaches October
        assert sample(bench, "sre_aws_cost_daily_usd", service="EC2") == 100.0
        assert sample(bench, "sre_aws_cost_anomaly", service="EC2") == 0.0
        assert sample(bench, "sre_aws_cost_month_to_date_usd") == pytest.approx(14 * 120.0)
        assert sample(bench, "sre_aws_cost_month_forecast_usd") == pytest.approx(30 * 120.0)
        assert sample(bench, "sre_aws_cost_budget_usd", period="monthly") == 12000
        assert sample(bench, "sre_aws_cost_budget_usd", period="daily") == 500
        assert sample(bench, "sre_aws_cost_api_requests_total") == 2  # usage + forecast
        await feature.run()  # within refresh_every: the store answers, no request
        assert sample(bench, "sre_aws_cost_api_requests_total") == 2
        assert notices(bench) == []

    run(tmp_path, client, check)


def test_refresh_after_refresh_every(tmp_path: Path) -> None:
    client = FakeCE(history({"EC2": 100.0}))

    async def check(bench: Bench, feature: CostFeature) -> None:
        await feature.check()
        assert isinstance(bench.clock, FixedClock)
        bench.clock.now += 3 * 3600  # refresh_every is 2h here
        await feature.check()
        assert sample(bench, "sre_aws_cost_api_requests_total") == 4

    run(tmp_path, client, check, refresh_every="2h")


def test_spike_is_announced_once_with_top_changes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = FakeCE(history({"EC2": 100.0, "S3": 20.0}, EC2=400.0, S3=25.0), forecast=1000.0)

    async def check(bench: Bench, feature: CostFeature) -> None:
        caplog.set_level(logging.INFO)
        report = await feature.check()
        assert report is not None and report.forecast_source == "cost_explorer"
        assert sample(bench, "sre_aws_cost_anomaly", service="EC2") == 1.0
        assert sample(bench, "sre_aws_cost_anomaly", service="S3") == 0.0
        # month to date (13 x 120 + 425) + Cost Explorer's forecast for the rest
        assert sample(bench, "sre_aws_cost_month_forecast_usd") == pytest.approx(1985 + 1000)
        await feature.check()
        sent = notices(bench)
        assert [n["key"] for n in sent] == ["cost.anomaly:2026-11-14:EC2"]
        assert "+$300.00" in sent[0]["text"] and "• S3: $25.00 (+$5.00)" in sent[0]["text"]
        assert sent[0]["fields"]["estimated"] == "no"
        assert "cost anomaly 2026-11-14: EC2 $400.00" in caplog.text

    run(tmp_path, client, check)


def test_budget_breaches_are_announced(tmp_path: Path) -> None:
    client = FakeCE(history({"EC2": 450.0}, EC2=520.0))

    async def check(bench: Bench, feature: CostFeature) -> None:
        report = await feature.check()
        assert report is not None
        assert sorted(b.period for b in report.breaches) == ["daily", "monthly"]
        keys = sorted(n["key"] for n in notices(bench))
        assert keys == ["cost.budget:2026-11-14:daily", "cost.budget:2026-11-14:monthly"]

    run(tmp_path, client, check)


def test_estimated_days_are_judged_and_labelled(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    costs = history({"EC2": 100.0})
    costs = [
        DailyCost(c.day, c.service, 400.0 if c.day == TODAY - timedelta(days=1) else c.usd, True)
        if c.day >= TODAY - timedelta(days=2)
        else c
        for c in costs
    ]
    client = FakeCE(costs)

    async def check(bench: Bench, feature: CostFeature) -> None:
        caplog.set_level(logging.INFO)
        report = await feature.check()
        assert report is not None and report.estimated
        [notice] = notices(bench)
        assert notice["fields"]["estimated"] == "yes" and "(estimated)" in notice["title"]
        assert "cost 2026-11-14 (estimated)" in caplog.text

    run(tmp_path, client, check)


def test_cost_explorer_errors_do_not_crash(tmp_path: Path) -> None:
    class Down(FakeCE):
        async def cost_and_usage(self, start: date, end: date) -> list[DailyCost]:
            raise ClientError("unreachable", "ce.get_cost_and_usage: refused", retryable=True)

    async def check(bench: Bench, feature: CostFeature) -> None:
        assert await feature.check() is None
        assert await bench.runner.run("cost.daily", feature.run) is True
        assert sample(bench, "sre_job_runs_total", job="cost.daily", outcome="success") == 1

    run(tmp_path, Down([]), check)
