"""The dead man's switch in-process: a fixed clock, the real store, HTTP through aiohttp's
test server, PagerDuty through the local Events v2 server. Silence -> told once; back ->
told once, PagerDuty resolved with the trigger's dedup_key; restarts and replicas."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from sre.config import Config, parse_config
from sre.devtools.fake_pagerduty import FakePagerDuty
from sre.features.heartbeat.feature import PATH, HeartbeatFeature, pagerduty_client
from sre.features.heartbeat.pager import TOPIC
from sre.runtime.ha import SOLO, Cluster
from sre.runtime.notices import NOTICE_TOPIC, OutboxNotifier
from sre.runtime.store import Store
from sre.runtime.store.sqlite import open_sqlite
from tests.helpers.alertmanager import alert_json, webhook
from tests.helpers.bench import FixedClock

NOW = 1_800_000_000.0
TOKEN = "hb-token-3141"
PD_KEY = "k" * 32
ENV = {"SRE_WEBHOOK_TOKEN": TOKEN, "PD_ROUTING_KEY": PD_KEY}
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SILENCE = 60.0


def synchronously(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async test on a fresh event loop (pytest sees the wrapped signature)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))  # type: ignore[arg-type]

    return run


def heartbeat_config(tmp: Path, pd_url: str | None, **heartbeat: Any) -> Config:
    hb: dict[str, Any] = {"receiver": "slack", "interval": "10s", "max_silence": "1m"}
    if pd_url is not None:
        hb.update(pagerduty_routing_key_env="PD_ROUTING_KEY", pagerduty_url=pd_url)
    hb.update(heartbeat)
    return parse_config(
        {
            "system": "t",
            "environment": "staging",
            "services": [{"name": "api", "namespace": "ns"}],
            "daemon": {"state": f"sqlite:///{tmp}/state.db", "max_webhook_bytes": 4096},
            "alertmanager": {
                "url": "http://127.0.0.1:9",
                "receivers": [{"name": "slack", "sre_daemon": {"url": "http://127.0.0.1:9877"}}],
                "route": {"receiver": "slack"},
                "heartbeat": hb,
            },
        }
    )


def watchdog(**extra: Any) -> bytes:
    body = webhook([alert_json("Watchdog", severity="info")], group_key='{}:{alertname="Watchdog"}')
    return json.dumps({**body, **extra}).encode()


@dataclass
class Run:
    feature: HeartbeatFeature
    client: TestClient[Any, Any]
    store: Store
    clock: FixedClock
    registry: CollectorRegistry

    async def beat(self, body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
        resp = await self.client.post(PATH, data=watchdog() if body is None else body,
                                      headers=AUTH if headers is None else headers)  # fmt: skip
        return resp.status, await resp.text()

    def notices(self) -> list[dict[str, Any]]:
        return [i.payload for i in self.store.outbox_pending([NOTICE_TOPIC])]

    def sample(self, name: str) -> float | None:
        return self.registry.get_sample_value(name)


@asynccontextmanager
async def running(
    tmp: Path,
    clock: FixedClock,
    pd: FakePagerDuty | None,
    cluster: Cluster = SOLO,
    **heartbeat: Any,
) -> AsyncIterator[Run]:
    cfg = heartbeat_config(tmp, pd.url if pd else None, **heartbeat)
    assert cfg.alertmanager is not None and cfg.alertmanager.heartbeat is not None
    hb = cfg.alertmanager.heartbeat
    store = open_sqlite(tmp / "state.db", clock)
    registry = CollectorRegistry()
    try:
        async with aiohttp.ClientSession() as session:
            feature = HeartbeatFeature(
                hb,
                cfg.daemon,
                pagerduty=pagerduty_client(hb, ENV, session),
                store=store,
                notices=OutboxNotifier(store),
                registry=registry,
                clock=clock,
                env=ENV,
                system=cfg.system,
                environment=cfg.environment,
                watched_since=clock(),
                cluster=cluster,
            )
            app = web.Application()
            app.add_routes(feature.routes())
            async with TestClient(TestServer(app)) as client:
                await feature.start()
                yield Run(feature, client, store, clock, registry)
                await feature.stop(2)
    finally:
        store.close()


@pytest.fixture
def pd() -> Iterator[FakePagerDuty]:
    with FakePagerDuty(routing_keys=(PD_KEY,)) as server:
        yield server


# --------------------------------------------------------------------------- the endpoint


@synchronously
async def test_the_endpoint_wants_the_webhook_token_and_a_watchdog(tmp_path: Path) -> None:
    async with running(tmp_path, FixedClock(NOW), None) as run:
        assert (await run.beat(headers={}))[0] == 401
        assert (await run.beat(headers={"Authorization": "Bearer nope"}))[0] == 401
        status, answer = await run.beat(b"{not json")
        assert (status, answer.split(":")[0]) == (400, "body is not valid JSON")
        other = webhook([alert_json("ServiceDown")])
        status, answer = await run.beat(json.dumps(other).encode())
        assert status == 400 and "no firing Watchdog alert (got ServiceDown (firing))" in answer
        status, answer = await run.beat(b'{"version": "4", "alerts": "x"}')
        assert (status, answer.strip()) == (400, "alerts: expected a non-empty list")
        status, _ = await run.beat(b"x" * 5000)
        assert status == 413
        assert run.sample("sre_heartbeats_received_total") == 0
        # Alertmanager 0.33 adds notification_reason: accepted like any key not read here.
        status, answer = await run.beat(watchdog(notification_reason="repeat_interval"))
        assert (status, answer.strip()) == (200, "heartbeat recorded")
        assert run.sample("sre_heartbeats_received_total") == 1
        assert run.sample("sre_heartbeat_last_seen_timestamp_seconds") == NOW


# --------------------------------------------------------------------------- silence, once


@synchronously
async def test_a_fresh_install_waits_max_silence_then_tells_once_and_back_once(
    tmp_path: Path, pd: FakePagerDuty
) -> None:
    clock = FixedClock(NOW)
    async with running(tmp_path, clock, pd) as run:
        await run.feature.check()
        clock.now = NOW + SILENCE - 1  # no heartbeat ever, but not max_silence since start
        await run.feature.check()
        assert run.notices() == [] and pd.events == []
        assert run.sample("sre_heartbeat_missing") == 0

        clock.now = NOW + SILENCE + 1
        await run.feature.check()
        clock.now += 30
        await run.feature.check()  # still silent: nothing new
        titles = [n["title"] for n in run.notices()]
        assert titles == ["Alerting pipeline silent: no Watchdog heartbeat for 1m1s"]
        assert run.notices()[0]["severity"] == "critical"
        assert run.sample("sre_heartbeat_missing") == 1
        assert [e.action for e in pd.accepted()] == ["trigger"]
        trigger = pd.accepted()[0].body
        assert trigger["payload"]["severity"] == "critical"
        assert trigger["dedup_key"] == "sre-heartbeat/t/staging/1"

        clock.now += 15
        status, answer = await run.beat()
        assert (status, answer.strip()) == (200, "heartbeat recorded; the outage is over")
        await run.feature.check()  # the resolve goes out at once or with the next check
        assert [n["title"] for n in run.notices()][1] == (
            "Alerting pipeline back: Watchdog heartbeat received after 1m46s of silence"
        )
        pd.wait_for(lambda s: [e.action for e in s.accepted()] == ["trigger", "resolve"])
        assert pd.accepted()[1].dedup_key == trigger["dedup_key"]
        assert pd.open_alerts() == []
        assert run.sample("sre_heartbeat_missing") == 0
        status, answer = await run.beat()
        assert answer.strip() == "heartbeat recorded"
        assert len(run.notices()) == 2


@synchronously
async def test_heartbeats_in_time_keep_it_quiet(tmp_path: Path, pd: FakePagerDuty) -> None:
    clock = FixedClock(NOW)
    async with running(tmp_path, clock, pd) as run:
        for _ in range(10):
            clock.now += SILENCE - 5
            assert (await run.beat())[0] == 200
            await run.feature.check()
        assert run.notices() == [] and pd.events == []
        assert run.sample("sre_heartbeats_received_total") == 10


@synchronously
async def test_a_second_outage_gets_its_own_notices_and_dedup_key(
    tmp_path: Path, pd: FakePagerDuty
) -> None:
    clock = FixedClock(NOW)
    async with running(tmp_path, clock, pd) as run:
        for _ in range(2):
            clock.now += SILENCE + 1
            await run.feature.check()
            clock.now += 1
            await run.beat()
            await run.feature.check()
        keys = [n["key"] for n in run.notices()]
        assert keys == [
            "heartbeat.missing:1", "heartbeat.back:1", "heartbeat.missing:2", "heartbeat.back:2"
        ]  # fmt: skip
        pd.wait_for(lambda s: len(s.accepted()) == 4)
        assert [(e.action, e.dedup_key[-1]) for e in pd.accepted()] == [
            ("trigger", "1"), ("resolve", "1"), ("trigger", "2"), ("resolve", "2")
        ]  # fmt: skip


# --------------------------------------------------------------------------- restarts, replicas


@synchronously
async def test_a_restart_keeps_the_last_heartbeat_and_the_outage(
    tmp_path: Path, pd: FakePagerDuty
) -> None:
    clock = FixedClock(NOW)
    async with running(tmp_path, clock, pd) as run:
        await run.beat()
    clock.now = NOW + 10
    async with running(tmp_path, clock, pd) as run:
        assert run.sample("sre_heartbeat_last_seen_timestamp_seconds") == NOW
        clock.now = NOW + SILENCE + 5  # past max_silence since the beat, not since the start
        await run.feature.check()
        assert run.notices() == []  # the daemon may have been down itself: wait a full bound
        clock.now = NOW + 10 + SILENCE + 1
        await run.feature.check()
        assert [n["key"] for n in run.notices()] == ["heartbeat.missing:1"]
        assert "1m11s" in run.notices()[0]["title"]  # counted from the last heartbeat
    clock.now += 100
    async with running(tmp_path, clock, pd) as run:
        assert run.sample("sre_heartbeat_missing") == 1
        await run.feature.check()
        assert len(run.notices()) == 1  # not told again after the restart
        await run.beat()
        await run.feature.check()
        assert [n["key"] for n in run.notices()][1] == "heartbeat.back:1"
    pd.wait_for(lambda s: [e.action for e in s.accepted()] == ["trigger", "resolve"])


@synchronously
async def test_two_replicas_on_one_store_declare_an_outage_once(
    tmp_path: Path, pd: FakePagerDuty
) -> None:
    clock = FixedClock(NOW)
    async with (
        running(tmp_path, clock, pd) as one,
        running(tmp_path, clock, pd) as two,
    ):
        await one.beat()
        clock.now += SILENCE + 1
        status = await one.feature.state.status()
        # Both looked before either wrote: only one declaration can win.
        now = clock()
        won = [
            await run.feature.state.declare_missing(
                status, now, lambda after, f=run.feature: f._missing(after, now)
            )
            for run in (one, two)
        ]
        assert [w is not None for w in won] == [True, False]
        await one.feature.check()
        await two.feature.check()
        assert [n["key"] for n in one.notices()] == ["heartbeat.missing:1"]
        await two.beat()
        await one.beat()
        assert [n["key"] for n in one.notices()] == ["heartbeat.missing:1", "heartbeat.back:1"]
        assert [i.payload["event_action"] for i in one.store.outbox_pending([TOPIC])] in (
            [],
            ["resolve"],
            ["trigger", "resolve"],
        )


# --------------------------------------------------------------------------- PagerDuty


@synchronously
async def test_pagerduty_failures_are_retried_in_order_and_refusals_logged(
    tmp_path: Path, pd: FakePagerDuty, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    clock = FixedClock(NOW)
    async with running(tmp_path, clock, pd) as run:
        pd.fail_next(2, 500)
        clock.now += SILENCE + 1
        await run.feature.check()  # trigger: 500, put back for ~2s
        await run.beat()  # the resolve is queued behind it
        await run.feature.check()  # not due yet: nothing overtakes the trigger
        assert [e.status for e in pd.events] == [500]
        clock.now += 5
        await run.beat()
        await run.feature.check()  # 500 again, put back for ~4s
        clock.now += 10
        await run.beat()
        await run.feature.check()
        pd.wait_for(lambda s: [e.action for e in s.accepted()] == ["trigger", "resolve"])
        assert run.sample("sre_pagerduty_events_total") is None  # labelled
        got = run.registry.get_sample_value
        assert (
            got("sre_pagerduty_events_total", {"action": "trigger", "result": "server_error"}) == 2
        )
        assert got("sre_pagerduty_events_total", {"action": "resolve", "result": "accepted"}) == 1
    pd.routing_keys.clear()  # PagerDuty no longer knows the key: 400, not retried
    async with running(tmp_path, clock, pd) as run:
        clock.now += SILENCE + 1
        await run.feature.check()
        assert run.store.outbox_pending([TOPIC]) == []
        assert "PagerDuty trigger" in caplog.text and "Invalid routing key" in caplog.text
    assert PD_KEY not in caplog.text
    for stored in tmp_path.glob("state.db*"):  # the key is never written: read the files
        assert PD_KEY.encode() not in stored.read_bytes()


@synchronously
async def test_without_a_routing_key_only_slack_is_told(tmp_path: Path) -> None:
    clock = FixedClock(NOW)
    async with running(tmp_path, clock, None) as run:
        assert run.feature.pager is None
        clock.now += SILENCE + 1
        await run.feature.check()
        assert [n["key"] for n in run.notices()] == ["heartbeat.missing:1"]
        assert "PagerDuty" not in run.notices()[0]["text"]
        assert run.store.outbox_pending([TOPIC]) == []


@synchronously
async def test_delivered_pagerduty_events_are_pruned_after_30_days(
    tmp_path: Path, pd: FakePagerDuty
) -> None:
    clock = FixedClock(NOW)
    async with running(tmp_path, clock, pd) as run:
        clock.now += SILENCE + 1
        await run.feature.check()  # trigger sent; the first prune of this process
        await run.beat()
        await run.feature.check()  # resolve sent
        pd.wait_for(lambda s: len(s.accepted()) == 2)
        rows = "SELECT status FROM outbox WHERE topic = :t"

        def kept() -> list[str]:
            with run.store.transaction() as tx:
                return [r["status"] for r in tx.all(rows, {"t": TOPIC})]

        assert kept() == ["delivered", "delivered"]
        for _ in range(30):  # a day apart, heartbeats on time: pruned when 30 days old
            clock.now += 86400
            await run.beat()
            await run.feature.check()
        assert kept() == ["delivered", "delivered"]
        clock.now += 86400
        await run.beat()
        await run.feature.check()
        assert kept() == []
