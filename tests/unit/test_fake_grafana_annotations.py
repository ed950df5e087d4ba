"""The local Grafana's annotations API behaves as Grafana's does (the deploys feature's tests
rely on it), exercised through the real client ``sre.clients.grafana.GrafanaClient``."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

from sre.clients import ClientError
from sre.clients.grafana import GrafanaClient, grafana_client
from tests.helpers.fake_grafana import FakeGrafana

TOKEN = "glsa_test_token"
T = TypeVar("T")


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    with FakeGrafana(TOKEN) as server:
        yield server


def call(grafana: FakeGrafana, body: Callable[[GrafanaClient], Awaitable[T]]) -> T:
    async def go() -> T:
        async with grafana_client(grafana.url, TOKEN, timeout=5) as client:
            return await body(client)

    return asyncio.run(go())


def raw(grafana: FakeGrafana, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    req = urllib.request.Request(grafana.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_create_then_find_by_every_tag_in_a_time_range(grafana: FakeGrafana) -> None:
    async def body(c: GrafanaClient) -> list[list[dict[str, Any]]]:
        first = await c.create_annotation({"time": 1000, "tags": ["deploy", "api"], "text": "a"})
        await c.create_annotation({"time": 5000, "tags": ["deploy", "web"], "text": "b"})
        await c.create_annotation(
            {"time": 2000, "timeEnd": 9000, "tags": ["silence", "api"], "text": "c"}
        )
        assert first > 0
        return [
            await c.find_annotations(["deploy"], 0, 10_000),
            await c.find_annotations(["deploy", "api"], 1, 10_000),
            await c.find_annotations(["api"], 8000, 8500),  # overlaps the region only
            await c.find_annotations(["deploy"], 1001, 4999),
        ]

    every, both, overlap, none = call(grafana, body)
    assert [a["text"] for a in every] == ["b", "a"]  # newest timeEnd first
    assert [a["text"] for a in both] == ["a"]
    assert [(a["text"], a["time"], a["timeEnd"]) for a in overlap] == [("c", 2000, 9000)]
    assert none == []
    assert set(every[0]) >= {"id", "time", "timeEnd", "text", "tags", "dashboardUID", "panelId"}
    assert every[1]["timeEnd"] == every[1]["time"] == 1000  # a point: timeEnd defaults to time


def test_match_any_limit_type_and_delete(grafana: FakeGrafana) -> None:
    for n, tag in enumerate(["x", "y", "z"]):
        assert (
            raw(grafana, "POST", "/api/annotations", {"time": n + 1, "tags": [tag], "text": tag})[0]
            == 200
        )
    status, found = raw(grafana, "GET", "/api/annotations?tags=x&tags=y&matchAny=true")
    assert status == 200 and sorted(a["text"] for a in found) == ["x", "y"]
    assert raw(grafana, "GET", "/api/annotations?tags=x&tags=y")[1] == []
    assert [a["text"] for a in raw(grafana, "GET", "/api/annotations?limit=2")[1]] == ["z", "y"]
    assert raw(grafana, "GET", "/api/annotations?type=alert")[1] == []
    assert len(raw(grafana, "GET", "/api/annotations?type=annotation")[1]) == 3
    victim = found[0]["id"]
    assert raw(grafana, "DELETE", f"/api/annotations/{victim}") == (
        200,
        {"message": "Annotation deleted"},
    )
    assert raw(grafana, "DELETE", f"/api/annotations/{victim}")[0] == 404
    assert len(raw(grafana, "GET", "/api/annotations")[1]) == 2


def test_bad_bodies_and_a_missing_token_are_refused(grafana: FakeGrafana) -> None:
    assert raw(grafana, "POST", "/api/annotations", {"tags": ["x"]})[0] == 400  # no text
    assert (
        raw(grafana, "POST", "/api/annotations", {"text": "t", "time": 9, "timeEnd": 1})[0] == 400
    )
    assert raw(grafana, "POST", "/api/annotations", {"text": "t", "tags": "x"})[0] == 400
    status, made = raw(grafana, "POST", "/api/annotations", {"text": "now"})
    assert status == 200 and made["message"] == "Annotation added"
    assert grafana.annotations[made["id"]]["time"] > 1_700_000_000_000  # defaults to now

    async def body(c: GrafanaClient) -> int:
        return await c.create_annotation({"text": "x"})

    with pytest.raises(ClientError) as err:
        asyncio.run(_with_token(grafana, "wrong", body))
    assert err.value.reason == "auth" and "wrong" not in str(err.value)


async def _with_token(grafana: FakeGrafana, token: str, body: Any) -> Any:
    async with grafana_client(grafana.url, token, timeout=5) as client:
        return await body(client)


def test_faults_fail_or_lose_the_answer(grafana: FakeGrafana) -> None:
    grafana.fail_next(1, 503, path="/api/annotations")
    grafana.lose_next(1, path="/api/annotations")

    async def body(c: GrafanaClient) -> list[str]:
        reasons = []
        for _ in range(2):
            try:
                await c.create_annotation({"text": "t", "time": 5, "tags": ["k"]})
            except ClientError as err:
                reasons.append(f"{err.reason} {err.retryable}")
        return reasons

    assert call(grafana, body) == ["bad_response True", "unreachable True"]
    # The lost one was stored, the failed one not.
    assert [a["text"] for a in grafana.annotations.values()] == ["t"]
