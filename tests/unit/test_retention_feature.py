"""The retention check when things go wrong: an answer that cannot be read, no answer, and
rules that cannot be built. Each is one warning and no verdict, never an exception."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry

from sre.clients.prometheus import PrometheusClient
from sre.config import parse_config
from sre.config.durations import Duration
from sre.features.retention.feature import RetentionFeature
from sre.features.retention.window import rules_window

MONTH = Duration.parse("30d")


def check_against(answer: Any, status: int = 200, longest: Duration | None = MONTH) -> list[Any]:
    async def runtimeinfo(_: web.Request) -> web.Response:
        if isinstance(answer, str):
            return web.Response(status=status, text=answer)
        return web.json_response(answer, status=status)

    async def go() -> list[Any]:
        app = web.Application()
        app.router.add_get("/api/v1/status/runtimeinfo", runtimeinfo)
        async with TestServer(app) as server, aiohttp.ClientSession() as session:
            client = PrometheusClient(str(server.make_url("")), session)
            registry = CollectorRegistry()
            feature = RetentionFeature(client, longest, unknown_because="x", registry=registry)
            verdict = await feature.check()
            return [verdict, registry.get_sample_value("sre_prometheus_retention_short")]

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("answer", "status", "said"),
    [
        ({"status": "success", "data": {"storageRetention": "forever"}}, 200,
         "answered a retention that cannot be read: storageRetention 'forever'"),
        ({"status": "success", "data": {}}, 200, "storageRetention is None"),
        ({"status": "success", "data": []}, 200, "(bad_response)"),
        ("<html>proxy error</html>", 502, "(bad_response): Prometheus /api/v1/status/runtimeinfo"),
        ({"status": "error", "error": "nope"}, 500, "(bad_response)"),
    ],
)  # fmt: skip
def test_an_answer_that_cannot_be_read_is_one_warning(
    answer: Any, status: int, said: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert check_against(answer, status) == [None, None]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and said in warnings[0], warnings


def test_a_good_answer_after_a_bad_one_is_judged() -> None:
    answer = {"status": "success", "data": {"storageRetention": "15d"}}
    verdict, short = check_against(answer)
    assert verdict.outcome == "fail" and short == 1


def test_rules_that_cannot_be_built_skip_the_check(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import rules

    def broken(cfg: Any) -> Any:
        raise RuntimeError("a bug in content")

    monkeypatch.setattr(rules, "all_groups", broken)
    cfg = parse_config({"system": "t", "services": [{"name": "a", "namespace": "n"}]})
    longest, why = rules_window(cfg)
    assert longest is None and why.endswith("RuntimeError: a bug in content")
    assert check_against({}, longest=None) == [None, None]
    assert "skipped, the longest window the rules read is unknown: x" in caplog.text
