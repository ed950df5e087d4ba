"""Instant and range queries of the Prometheus client: results, NaN, and error reasons."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from sre.clients import ClientError
from sre.clients.prometheus import PrometheusClient
from tests.helpers import free_port

MATRIX = {
    "status": "success",
    "data": {
        "resultType": "matrix",
        "result": [{"metric": {"service": "api"}, "values": [[100, "0.5"], [101, "NaN"]]}],
    },
}
VECTOR = {
    "status": "success",
    "data": {"resultType": "vector", "result": [{"metric": {}, "value": [100.5, "+Inf"]}]},
}
BAD_QUERY = {"status": "error", "errorType": "bad_data", "error": "parse error at char 3"}


async def with_server(answer: tuple[int, Any], test: Any) -> Any:
    seen: list[dict[str, str]] = []

    async def handler(request: web.Request) -> web.Response:
        # Queries are POSTed as a form (a batched query is too long for some proxies' URLs).
        assert request.method == "POST" and not request.query
        seen.append({k: str(v) for k, v in (await request.post()).items()})
        status, body = answer
        if isinstance(body, str):
            return web.Response(status=status, text=body)
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_post("/api/v1/query", handler)
    app.router.add_post("/api/v1/query_range", handler)
    async with TestServer(app) as server, aiohttp.ClientSession() as session:
        client = PrometheusClient(str(server.make_url("")), session)
        return await test(client), seen


def test_range_query_parses_points_and_nan() -> None:
    async def go(client: PrometheusClient) -> Any:
        return await client.query_range("up", 100, 101, 1)

    (series,), seen = asyncio.run(with_server((200, MATRIX), go))
    assert series.labels == {"service": "api"}
    assert series.points[0] == (100.0, 0.5)
    assert math.isnan(series.points[1][1])
    assert seen == [{"query": "up", "start": "100.000", "end": "101.000", "step": "1"}]


def test_instant_query() -> None:
    async def go(client: PrometheusClient) -> Any:
        return await client.query("up", at=100.5)

    (sample,), seen = asyncio.run(with_server((200, VECTOR), go))
    assert sample.value == math.inf
    assert seen[0]["time"] == "100.500"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ((400, BAD_QUERY), "query_error"),
        ((422, {"status": "error", "errorType": "execution", "error": "x"}), "query_error"),
        ((502, "<html>bad gateway</html>"), "bad_response"),
        (
            (200, {"status": "success", "data": {"resultType": "vector", "result": []}}),
            "bad_response",
        ),
        (
            (200, {"status": "success", "data": {"resultType": "matrix", "result": [{}]}}),
            "bad_response",
        ),
        # A partial answer (a query layer missing a store) is never taken as whole.
        ((200, {**MATRIX, "warnings": ["partial response: store 2 down"]}), "partial_answer"),
    ],
)
def test_errors_have_reasons(answer: tuple[int, Any], reason: str) -> None:
    async def go(client: PrometheusClient) -> Any:
        with pytest.raises(ClientError) as err:
            await client.query_range("up", 1, 2, 1)
        return err.value

    error, _ = asyncio.run(with_server(answer, go))
    assert error.reason == reason


def test_a_long_query_is_sent_whole() -> None:
    # 500 service names: longer than many proxies accept in a URL, fine in a form body.
    expr = 'sum by (service) (up{service=~"' + "|".join(f"svc-{i:04d}" for i in range(500)) + '"})'

    async def go(client: PrometheusClient) -> Any:
        return await client.query_range(expr, 100, 101, 1)

    _, seen = asyncio.run(with_server((200, MATRIX), go))
    assert seen[0]["query"] == expr


def test_unreachable() -> None:
    async def go() -> ClientError:
        async with aiohttp.ClientSession() as session:
            client = PrometheusClient(f"http://127.0.0.1:{free_port()}", session)
            with pytest.raises(ClientError) as err:
                await client.query("up")
            return err.value

    assert asyncio.run(go()).reason == "unreachable"
