"""Cost analysis against the real moto server (Cost Explorer seeded through its static
results endpoint), a local throttling stub and an unreachable endpoint."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sre.features.cost.feature import CostFeature
from tests.helpers import free_port
from tests.helpers.bench import Bench, FixedClock, notices, sample
from tests.helpers.bench import bench as bench_for
from tests.helpers.moto import MotoServer

pytestmark = pytest.mark.integration

TODAY = date(2026, 11, 15)
YESTERDAY = TODAY - timedelta(days=1)
NOON = datetime(2026, 11, 15, 12, tzinfo=UTC).timestamp()
START = date(2026, 10, 31)  # min(first of the month, yesterday - 14 days)
COST = {
    "schedule": "0 7 * * *",
    "daily_budget_usd": 500,
    "monthly_budget_usd": 12000,
    "anomaly": {"lookback_days": 14, "min_increase_usd": 50, "ratio": 1.5},
}


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-west-2",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def day_result(day: date, costs: dict[str, float], estimated: bool = False) -> dict[str, Any]:
    return {
        "TimePeriod": {"Start": day.isoformat(), "End": (day + timedelta(days=1)).isoformat()},
        "Total": {},
        "Groups": [
            {"Keys": [s], "Metrics": {"UnblendedCost": {"Amount": f"{usd:.4f}", "Unit": "USD"}}}
            for s, usd in sorted(costs.items())
        ],
        "Estimated": estimated,
    }


def window(
    normal: dict[str, float], yesterday: dict[str, float] | None = None, estimated: int = 0
) -> list[dict[str, Any]]:
    """Results from START to yesterday; the last ``estimated`` days flagged Estimated."""
    out = []
    day = START
    while day < TODAY:
        costs = dict(normal)
        if day == YESTERDAY and yesterday:
            costs.update(yesterday)
        # a little day-to-day noise, the same every run
        costs = {s: v * (1 + 0.03 * ((day.toordinal() + len(s)) % 3 - 1)) for s, v in costs.items()}
        out.append(day_result(day, costs, estimated=(TODAY - day).days <= estimated))
        day += timedelta(days=1)
    return out


def page(results: list[dict[str, Any]], token: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"ResultsByTime": results, "DimensionValueAttributes": []}
    if token:
        body["NextPageToken"] = token
    return body


async def run_cost(tmp: Path, endpoint: str, check: Any, *, attempts: int = 3, **cost: Any) -> None:
    aws = {"region": "us-west-2", "endpoint_url": endpoint}
    async with bench_for(tmp, FixedClock(NOON), aws=aws, cost={**COST, **cost}) as bench:
        assert bench.config.aws is not None and bench.config.cost is not None
        client = bench.aws_client(attempts=attempts, backoff=0.01)
        await check(bench, bench.cost(client))


def test_normal_fortnight(tmp_path: Path, moto: MotoServer) -> None:
    moto.reset()
    moto.seed_cost_and_usage([page(window({"Amazon EC2": 100.0, "Amazon S3": 20.0}))])

    async def check(bench: Bench, feature: CostFeature) -> None:
        report = await feature.check()
        assert report is not None and not report.estimated
        assert report.anomalies == [] and report.breaches == []
        assert sample(bench, "sre_aws_cost_daily_usd", service="Amazon EC2") == pytest.approx(
            report.by_service["Amazon EC2"]
        )
        assert 90 < report.by_service["Amazon EC2"] < 110
        assert sample(bench, "sre_aws_cost_anomaly", service="Amazon EC2") == 0
        mtd = sample(bench, "sre_aws_cost_month_to_date_usd")
        assert mtd is not None and 14 * 110 < mtd < 14 * 130
        # moto has no GetCostForecast: the run-rate stands in, and the failed try is counted
        assert report.forecast_source == "run_rate"
        assert sample(bench, "sre_aws_cost_month_forecast_usd") == pytest.approx(mtd / 14 * 30)
        assert (
            sample(bench, "sre_aws_errors_total", api="ce.get_cost_forecast", reason="server_error")
            == 1
        )
        assert sample(bench, "sre_aws_cost_api_requests_total") == 2
        await feature.run()  # cached: no further requests
        assert sample(bench, "sre_aws_cost_api_requests_total") == 2
        assert notices(bench) == []

    asyncio.run(run_cost(tmp_path, moto.url, check))


def test_one_service_spiking(tmp_path: Path, moto: MotoServer) -> None:
    moto.reset()
    normal = {"Amazon EC2": 100.0, "Amazon S3": 20.0, "AWS Lambda": 5.0}
    moto.seed_cost_and_usage([page(window(normal, {"Amazon EC2": 420.0}))])

    async def check(bench: Bench, feature: CostFeature) -> None:
        await feature.check()
        assert sample(bench, "sre_aws_cost_anomaly", service="Amazon EC2") == 1
        assert sample(bench, "sre_aws_cost_anomaly", service="Amazon S3") == 0
        await feature.check()  # the same day again: no second notice
        [notice] = notices(bench)
        assert notice["key"] == f"cost.anomaly:{YESTERDAY}:Amazon EC2"
        assert notice["source"] == "cost" and notice["severity"] == "warning"
        assert "Top changes" in notice["text"] and "• Amazon EC2:" in notice["text"]
        assert "Amazon S3" in notice["text"]  # the other top services are named too

    asyncio.run(run_cost(tmp_path, moto.url, check))


def test_month_forecast_over_budget(tmp_path: Path, moto: MotoServer) -> None:
    moto.reset()
    moto.seed_cost_and_usage([page(window({"Amazon EC2": 300.0, "Amazon RDS": 150.0}))])

    async def check(bench: Bench, feature: CostFeature) -> None:
        report = await feature.check()
        assert report is not None
        assert [b.period for b in report.breaches] == ["monthly"]  # 450/day < 500, x30 > 12k
        [notice] = notices(bench)
        assert notice["key"] == f"cost.budget:{YESTERDAY}:monthly"
        assert "over the monthly budget" in notice["title"] and "run-rate" in notice["text"]

    asyncio.run(run_cost(tmp_path, moto.url, check))


def test_estimated_data_is_labelled(
    tmp_path: Path, moto: MotoServer, caplog: pytest.LogCaptureFixture
) -> None:
    moto.reset()
    results = window({"Amazon EC2": 100.0}, {"Amazon EC2": 400.0}, estimated=2)
    moto.seed_cost_and_usage([page(results)])
    caplog.set_level(logging.INFO)

    async def check(bench: Bench, feature: CostFeature) -> None:
        report = await feature.check()
        assert report is not None and report.estimated
        [notice] = notices(bench)
        assert notice["fields"]["estimated"] == "yes" and "(estimated)" in notice["title"]
        assert f"cost {YESTERDAY} (estimated)" in caplog.text

    asyncio.run(run_cost(tmp_path, moto.url, check))


def test_pages_are_followed(tmp_path: Path, moto: MotoServer) -> None:
    moto.reset()
    results = window({"Amazon EC2": 100.0})
    moto.seed_cost_and_usage([page(results[:7], token="page-2"), page(results[7:])])

    async def check(bench: Bench, feature: CostFeature) -> None:
        report = await feature.check()
        assert report is not None and "Amazon EC2" in report.by_service
        assert sample(bench, "sre_aws_cost_api_requests_total") == 3  # two pages + forecast

    asyncio.run(run_cost(tmp_path, moto.url, check))


class ThrottlingCE(BaseHTTPRequestHandler):
    """Cost Explorer's JSON protocol: ThrottlingException ``throttle`` times, then answers."""

    throttle = 0
    calls: list[str] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        target = self.headers.get("X-Amz-Target", "")
        type(self).calls.append(target)
        if target.endswith("GetCostAndUsage") and type(self).throttle > 0:
            type(self).throttle -= 1
            self._send(400, {"__type": "ThrottlingException", "message": "Rate exceeded"})
        elif target.endswith("GetCostAndUsage"):
            self._send(200, page(window({"Amazon EC2": 100.0})))
        else:
            self._send(200, {"Total": {"Amount": "1500", "Unit": "USD"}})

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def test_throttling_is_counted_and_retried(tmp_path: Path) -> None:
    ThrottlingCE.throttle, ThrottlingCE.calls = 2, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), ThrottlingCE)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    async def check(bench: Bench, feature: CostFeature) -> None:
        assert await bench.runner.run("cost.daily", feature.run) is True
        assert (
            sample(bench, "sre_aws_errors_total", api="ce.get_cost_and_usage", reason="throttled")
            == 2
        )
        assert sample(bench, "sre_aws_cost_api_requests_total") == 4  # 2 throttled + 1 + forecast
        assert sample(bench, "sre_aws_cost_daily_usd", service="Amazon EC2") is not None
        mtd = sample(bench, "sre_aws_cost_month_to_date_usd")
        assert mtd is not None
        assert sample(bench, "sre_aws_cost_month_forecast_usd") == pytest.approx(mtd + 1500)

    try:
        asyncio.run(run_cost(tmp_path, f"http://127.0.0.1:{server.server_port}", check))
    finally:
        server.shutdown()
        server.server_close()
    assert len(ThrottlingCE.calls) == 4


def test_unreachable_endpoint_is_counted_and_retried(tmp_path: Path) -> None:
    async def check(bench: Bench, feature: CostFeature) -> None:
        assert await bench.runner.run("cost.daily", feature.run) is True  # contained
        api = "ce.get_cost_and_usage"
        assert sample(bench, "sre_aws_errors_total", api=api, reason="unreachable") == 3
        assert sample(bench, "sre_aws_cost_api_requests_total") == 3
        assert sample(bench, "sre_aws_cost_daily_usd", service="Amazon EC2") is None

    asyncio.run(run_cost(tmp_path, f"http://127.0.0.1:{free_port()}", check, attempts=3))
