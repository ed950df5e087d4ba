"""The PagerDuty Events v2 client against the local Events v2 server: what is accepted,
what is retried, and that the routing key never appears in an error."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from sre.clients import ClientError
from sre.clients.pagerduty import PagerDutyClient
from sre.devtools.fake_pagerduty import FakePagerDuty
from tests.helpers import free_port

KEY = "R0123456789abcdef0123456789abcde"
TRIGGER = {
    "event_action": "trigger",
    "dedup_key": "d-1",
    "payload": {"summary": "s", "source": "sre", "severity": "critical"},
}


@pytest.fixture
def pd() -> Iterator[FakePagerDuty]:
    with FakePagerDuty(routing_keys=(KEY,)) as server:
        yield server


def send(url: str, key: str, event: dict[str, Any]) -> str:
    async def go() -> str:
        async with aiohttp.ClientSession() as session:
            return await PagerDutyClient(url, key, session).send(event)

    return asyncio.run(go())


def refused(url: str, key: str, event: dict[str, Any]) -> ClientError:
    with pytest.raises(ClientError) as caught:
        send(url, key, event)
    assert key not in str(caught.value) and key not in repr(caught.value.args)
    return caught.value


def test_trigger_then_resolve_with_the_same_dedup_key(pd: FakePagerDuty) -> None:
    assert send(pd.url, KEY, TRIGGER) == "d-1"
    assert [a.status for a in pd.open_alerts()] == ["triggered"]
    assert send(pd.url, KEY, {"event_action": "resolve", "dedup_key": "d-1"}) == "d-1"
    assert pd.open_alerts() == []
    assert pd.alerts["d-1"][0].log == ["trigger", "resolve"]
    assert pd.events[0].body["routing_key"] == KEY  # added by the client, not the caller


def test_a_refused_event_is_not_retried_and_says_why(pd: FakePagerDuty) -> None:
    err = refused(pd.url, KEY, {**TRIGGER, "payload": {"summary": "s"}})
    assert (err.reason, err.retryable, err.code) == ("bad_request", False, "400")
    assert "'payload.source' is missing or blank" in str(err)
    err = refused(pd.url, "x" * 32, TRIGGER)
    assert "Invalid routing key" in str(err) and not err.retryable


def test_throttling_and_server_errors_are_retryable(pd: FakePagerDuty) -> None:
    pd.fail_next(1, 429)
    err = refused(pd.url, KEY, TRIGGER)
    assert (err.reason, err.retryable, err.retry_after) == ("throttled", True, 60.0)
    pd.fail_next(1, 503)
    err = refused(pd.url, KEY, TRIGGER)
    assert (err.reason, err.retryable, err.code) == ("server_error", True, "503")
    assert pd.accepted() == []


def test_an_unreachable_pagerduty_is_retryable() -> None:
    err = refused(f"http://127.0.0.1:{free_port()}/v2/enqueue", KEY, TRIGGER)
    assert (err.reason, err.retryable) == ("unreachable", True)


def test_an_error_page_echoing_the_key_is_scrubbed() -> None:
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    async def echo(request: web.Request) -> web.Response:
        body = await request.json()
        return web.Response(status=400, text=f"bad key {body['routing_key']}")

    async def go() -> ClientError:
        app = web.Application()
        app.router.add_post("/v2/enqueue", echo)
        async with TestServer(app) as server, aiohttp.ClientSession() as session:
            client = PagerDutyClient(str(server.make_url("/v2/enqueue")), KEY, session)
            assert KEY not in repr(client)
            with pytest.raises(ClientError) as caught:
                await client.send(TRIGGER)
            return caught.value

    err = asyncio.run(go())
    assert KEY not in str(err) and "bad key <routing key>" in str(err)
