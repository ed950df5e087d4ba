"""POST /alertmanager in-process: auth, limits, bad bodies, idempotency, refusing to start,
and a property test that no body produces a 5xx."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from sre.config import Config, parse_config
from sre.daemon.app import Daemon
from sre.devtools.fake_slack import FakeSlack
from tests.helpers import free_port
from tests.helpers.alertmanager import alert_json, webhook

TOKEN = "am-token-0123456789"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def make_config(tmp: Path, slack: FakeSlack | None = None, **daemon: Any) -> Config:
    data: dict[str, Any] = {
        "system": "t",
        "prometheus": {"url": "http://127.0.0.1:9"},
        "runbooks": {"base_url": "http://x/"},
        "services": [{"name": "api-service", "namespace": "ns"}],
        "daemon": {
            "listen": f"127.0.0.1:{free_port()}",
            "state": f"sqlite:///{tmp}/state.db",
            "shutdown_timeout": "2s",
            "max_webhook_bytes": 4096,
            **daemon,
        },
    }
    if slack is not None:
        data["slack"] = {
            "base_url": slack.base_url,
            "routes": [
                {"match": {"severity": "critical"}, "channel": "#alerts"},
                {"channel": "#devops-alerts"},
            ],
        }
    return parse_config(data)


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SRE_WEBHOOK_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-secret-abc")
    yield


@asynccontextmanager
async def running(cfg: Config, **options: Any) -> AsyncIterator[tuple[Daemon, str]]:
    daemon = Daemon(cfg, "sha", registry=CollectorRegistry(), **options)
    await daemon.start()
    try:
        yield daemon, f"http://127.0.0.1:{cfg.daemon.host_port[1]}"
    finally:
        await daemon.stop()


async def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=HEADERS if headers is None else headers) as resp,
    ):
        return resp.status, await resp.text()


def body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def test_status_codes_and_duplicates(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    good = body(webhook([alert_json(service="api-service")]))

    async def go() -> None:
        async with running(cfg) as (daemon, base):
            url = f"{base}/alertmanager"
            assert (await post(url, good, {"Authorization": "Bearer wrong"}))[0] == 401
            assert (await post(url, good, {}))[0] == 401
            status, text = await post(url, b'{"version": "4", ')
            assert status == 400 and "not valid JSON" in text and "\n" not in text.strip()
            status, text = await post(url, body({"version": "3"}))
            assert (status, text.strip()) == (400, 'version: expected "4", got "3"')
            assert (await post(url, b"x" * 5000))[0] == 413
            assert (await post(url, "é".encode("latin-1")))[0] == 400
            assert await post(url, good) == (200, "queued\n")
            assert await post(url, good) == (200, "duplicate\n")
            reg = daemon.registry
            assert reg.get_sample_value("sre_alerts_received_total", {"status": "firing"}) == 2
            assert reg.get_sample_value("sre_alert_duplicates_total") == 1
            # the same alert resolved is new; a re-fire (new startsAt) is new too
            resolved = alert_json(service="api-service", status="resolved")
            assert (await post(url, body(webhook([resolved]))))[1] == "queued\n"
            refire = alert_json(service="api-service", starts_at="2026-11-26T21:00:00Z")
            assert (await post(url, body(webhook([refire]))))[1] == "queued\n"
            # all three reach the console sink, in the end (delivery runs on its own)
            for _ in range(100):
                if daemon.store.outbox_count("alerts") == 0:
                    break
                await asyncio.sleep(0.05)
            ok = daemon.registry.get_sample_value("sre_slack_deliveries_total", {"result": "ok"})
            assert (daemon.store.outbox_count("alerts"), ok) == (0, 3)

    asyncio.run(go())


def test_store_failure_is_503_so_alertmanager_retries(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)

    async def go() -> None:
        async with running(cfg) as (daemon, base):

            def broken(*_: Any) -> None:
                import sqlite3

                raise sqlite3.OperationalError("disk I/O error")

            # The outbox row fails after the claims were written: the whole receipt rolls
            # back, so the same webhook, retried once the disk is back, is not a duplicate.
            good = daemon.store.outbox_add
            daemon.store.outbox_add = broken  # type: ignore[method-assign]
            status, _ = await post(f"{base}/alertmanager", body(webhook([alert_json()])))
            assert status == 503
            daemon.store.outbox_add = good  # type: ignore[method-assign]
            status, text = await post(f"{base}/alertmanager", body(webhook([alert_json()])))
            assert (status, text) == (200, "queued\n")

    asyncio.run(go())


def test_refuses_to_start_without_the_token_unless_insecure_dev(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("SRE_WEBHOOK_TOKEN")
    cfg = make_config(tmp_path)
    daemon = Daemon(cfg, "sha", registry=CollectorRegistry())
    assert asyncio.run(daemon.serve()) == 2
    assert "SRE_WEBHOOK_TOKEN" in caplog.text and "--insecure-dev" in caplog.text

    async def go() -> None:
        async with running(make_config(tmp_path / "b"), insecure_dev=True) as (_, base):
            url = f"{base}/alertmanager"
            assert (await post(url, body(webhook([alert_json()])), {}))[0] == 200
        # webhook_token_env: null switches the receiver off; notices still work
        async with running(make_config(tmp_path / "c", webhook_token_env=None)) as (_, base):
            assert (await post(f"{base}/alertmanager", b"{}"))[0] == 404

    asyncio.run(go())


def test_no_secret_in_logs_or_slack_messages(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    with FakeSlack() as slack:
        cfg = make_config(tmp_path, slack)

        async def go() -> None:
            async with running(cfg) as (_, base):
                url = f"{base}/alertmanager"
                await post(url, body(webhook([alert_json(service="api-service")])))
                await post(url, b"{", {"Authorization": "Bearer nope"})
                await post(f"{base}/slack/actions", b"payload=%7B%7D")
                await asyncio.to_thread(slack.wait_for, lambda s: s.calls)

        asyncio.run(go())
        sent = json.dumps([c.body for c in slack.calls])
    secrets = [TOKEN, "xoxb-test-token", "signing-secret-abc"]
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in sent
    assert os.environ["SRE_WEBHOOK_TOKEN"] == TOKEN  # the test did run with them set


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
alert_like = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(["firing", "resolved", "x"]) | json_values,
        "labels": st.dictionaries(st.text(max_size=5), st.text(max_size=5)) | json_values,
        "startsAt": st.sampled_from(["2026-11-26T20:00:00Z", "nope"]) | json_values,
        "fingerprint": st.text(max_size=5) | json_values,
        "annotations": json_values,
    },
)
webhook_like = st.fixed_dictionaries(
    {},
    optional={
        "version": st.sampled_from(["4", 4]) | json_values,
        "status": st.sampled_from(["firing", "resolved"]) | json_values,
        "groupKey": st.text(max_size=5) | json_values,
        "alerts": st.lists(alert_like, max_size=3) | json_values,
        "truncatedAlerts": st.integers() | json_values,
        "commonLabels": json_values,
    },
)
bodies = (
    st.binary(max_size=300)
    | webhook_like.map(lambda d: json.dumps(d).encode())
    | json_values.map(lambda d: json.dumps(d).encode())
)


def test_random_bodies_never_produce_a_5xx(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)

    async def serve(samples: list[bytes]) -> list[int]:
        async with running(cfg) as (daemon, base), aiohttp.ClientSession() as session:
            statuses = []
            for sample in samples:
                async with session.post(f"{base}/alertmanager", data=sample, headers=HEADERS) as r:
                    statuses.append(r.status)
            assert await daemon.ready() is None
            return statuses

    collected: list[bytes] = []

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(bodies)
    def collect(sample: bytes) -> None:
        collected.append(sample)

    collect()
    statuses = asyncio.run(serve(collected))
    assert len(statuses) == len(collected) >= 100
    assert all(s in (200, 400, 413) for s in statuses), sorted(set(statuses))
    assert 400 in statuses
