"""The outbox delivery worker in-process against the local Slack server: one message per
group, updates + thread replies, resolve in place, retries in order, permanent errors,
restarts, notices and the console sink."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from sre.clients.retry import Backoff
from sre.devtools.fake_slack import FakeSlack
from sre.features.alerts import delivery
from sre.runtime.notices import Notice
from tests.helpers.alertmanager import alert_json, webhook
from tests.unit.test_alerts_receiver import body, env, make_config, post, running

__all__ = ["env"]  # the autouse fixture: the webhook, Slack and signing secrets set


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "BACKOFF", Backoff(base=0.05, cap=60.0))


def wait(slack: FakeSlack, predicate: Any, timeout: float = 15) -> Any:
    return asyncio.to_thread(slack.wait_for, predicate, timeout)


def chat_calls(slack: FakeSlack) -> list[Any]:
    return [c for c in slack.calls if c.method.startswith("chat.")]


def methods(slack: FakeSlack) -> list[str]:
    return [c.method for c in slack.calls]


def test_one_message_per_group_updated_threaded_and_resolved(tmp_path: Path) -> None:
    a1 = alert_json(service="api-service", pod="api-1", fingerprint="f1")
    a2 = alert_json(service="api-service", pod="api-2", fingerprint="f2")
    with FakeSlack() as slack:

        async def go() -> None:
            async with running(make_config(tmp_path, slack)) as (daemon, base):
                url = f"{base}/alertmanager"
                await post(url, body(webhook([a1])))
                await wait(slack, lambda s: len(s.calls) >= 1)
                first = slack.calls[0]
                assert first.method == "chat.postMessage" and first.body["channel"] == "#alerts"
                text = json.dumps(first.body)
                for piece in ("CRITICAL", "ServiceHighErrorRate summary", "Runbook", "Silence"):
                    assert piece in text, piece
                assert "pod=api-1" in text and "Acknowledge" in text and "Roll back" not in text
                await post(url, body(webhook([a1, a2])))
                await wait(slack, lambda s: len(s.calls) >= 3)
                ts = next(iter(slack.messages))[1]
                update, reply = slack.calls[1], slack.calls[2]
                assert update.method == "chat.update" and update.body["ts"] == ts
                assert "2 firing" in update.body["text"]
                assert reply.body["thread_ts"] == ts
                assert reply.body["text"] == "1 alert(s) firing: ServiceHighErrorRate"
                resolved = [{**a, "status": "resolved"} for a in (a1, a2)]
                for a in resolved:
                    a["endsAt"] = "2026-11-26T20:12:00Z"
                await post(url, body(webhook(resolved)))
                await wait(slack, lambda s: len(s.calls) >= 5)
                final = slack.calls[3]
                assert final.method == "chat.update" and final.body["ts"] == ts
                assert "resolved after 12m" in final.body["text"]
                assert final.body["attachments"][0]["color"] == "#2eb67d"
                assert "Acknowledge" not in json.dumps(final.body)
                assert len(slack.messages) == 1  # one message for the whole group
                reg = daemon.registry

                def delivered() -> Any:
                    return reg.get_sample_value("sre_slack_deliveries_total", {"result": "ok"})

                # Counted once Slack's answer is in and the store says delivered, a moment
                # after the Slack server saw the call.
                for _ in range(100):
                    if delivered() == 5:
                        break
                    await asyncio.sleep(0.05)
                # three notifications and two thread notes, one Slack call each
                assert delivered() == 5
                assert reg.get_sample_value("sre_slack_delivery_latency_seconds_count") == 3
                assert reg.get_sample_value("sre_outbox_pending") == 0

        asyncio.run(go())


def test_slack_500_and_429_lose_nothing_and_keep_order_per_group(tmp_path: Path) -> None:
    with FakeSlack() as slack:
        slack.fail_next(3, 500)
        slack.fail_next(2, 429, retry_after=0)

        async def go() -> None:
            async with running(make_config(tmp_path, slack)) as (daemon, base):
                url = f"{base}/alertmanager"
                for group in range(3):
                    key = f'{{}}:{{alertname="A{group}"}}'
                    first = alert_json(f"A{group}", fingerprint=f"f{group}")
                    second = alert_json(f"A{group}", fingerprint=f"g{group}", pod="p2")
                    assert (await post(url, body(webhook([first], group_key=key))))[0] == 200
                    await post(url, body(webhook([first, second], group_key=key)))
                # A 500 may have been stored: the daemon looks in the history before posting
                # again (conversations.history); count the posts and updates only.
                await wait(slack, lambda s: len(chat_calls(s)) >= 9, timeout=30)
                assert len(chat_calls(slack)) == 9
                for group in range(3):
                    mine = [c for c in chat_calls(slack) if f"A{group}" in json.dumps(c.body)]
                    assert [c.method for c in mine] == [
                        "chat.postMessage",
                        "chat.update",
                        "chat.postMessage",
                    ]
                    assert "thread_ts" in mine[2].body
                reg = daemon.registry
                assert reg.get_sample_value("sre_slack_deliveries_total", {"result": "retry"}) >= 2  # type: ignore[operator]
                assert reg.get_sample_value("sre_outbox_pending") == 0

        asyncio.run(go())


def test_permanent_errors_are_recorded_not_retried(tmp_path: Path) -> None:
    with FakeSlack(channels=("#alerts",)) as slack:

        async def go() -> None:
            async with running(make_config(tmp_path, slack)) as (daemon, base):
                url = f"{base}/alertmanager"
                lost = alert_json("Warn", severity="warning")  # routed to #devops-alerts
                await post(url, body(webhook([lost], group_key="w")))
                await post(url, body(webhook([alert_json("Crit")], group_key="c")))
                await wait(slack, lambda s: len(s.calls) >= 2)  # both tried
                await asyncio.sleep(0.5)
                assert len(slack.calls) == 2  # the failed one was not tried again
                assert [m.channel for m in slack.messages.values()] == ["#alerts"]
                reg = daemon.registry
                assert (
                    reg.get_sample_value(
                        "sre_slack_deliveries_total", {"result": "permanent_error"}
                    )
                    == 1
                )
                assert reg.get_sample_value("sre_slack_deliveries_total", {"result": "retry"}) == 0
                assert daemon.store.outbox_count() == 0
                with daemon.store.transaction() as tx:
                    row = tx.one("SELECT status, last_error FROM outbox WHERE id = 1")
                assert row == {"status": "failed", "last_error": "Slack error: channel_not_found"}

        asyncio.run(go())


def test_a_restart_keeps_updating_the_same_message(tmp_path: Path) -> None:
    alert = alert_json(service="api-service")
    with FakeSlack() as slack:
        cfg = make_config(tmp_path, slack)

        async def go() -> None:
            async with running(cfg) as (_, base):
                await post(f"{base}/alertmanager", body(webhook([alert])))
                await wait(slack, lambda s: len(s.calls) >= 1)
            async with running(cfg) as (_, base):
                resolved = {**alert, "status": "resolved", "endsAt": "2026-11-26T20:12:00Z"}
                await post(f"{base}/alertmanager", body(webhook([resolved])))
                await wait(slack, lambda s: len(s.calls) >= 3)
            ts = next(iter(slack.messages))[1]
            assert slack.calls[1].method == "chat.update" and slack.calls[1].body["ts"] == ts

        asyncio.run(go())


def test_notices_are_routed_and_threaded(tmp_path: Path) -> None:
    with FakeSlack() as slack:

        async def go() -> None:
            async with running(make_config(tmp_path, slack)) as (daemon, _):
                notices = daemon.notices
                start = Notice(
                    key="rollback:api:1",
                    title="Rolling back api-service",
                    text="error rate 12% > 5%",
                    severity="critical",
                    source="rollback",
                    fields={"revision": "41 -> 40"},
                )
                assert await notices.notify(start) is True
                assert await notices.notify(start) is False  # same key: once
                done = Notice(
                    key="rollback:api:1:done",
                    title="Rollback finished",
                    text="healthy",
                    severity="resolved",
                    thread_key="rollback:api:1",
                )
                await notices.notify(done)
                await wait(slack, lambda s: len(s.calls) >= 2)

        asyncio.run(go())
    first, second = slack.calls
    assert first.body["channel"] == "#alerts" and first.body["text"] == "Rolling back api-service"
    assert "41 -> 40" in json.dumps(first.body)
    assert second.body["thread_ts"] == next(iter(slack.messages))[1]
    assert second.body["channel"] == "#alerts"


def test_console_sink_without_slack(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)

    async def go() -> None:
        async with running(make_config(tmp_path)) as (daemon, base):
            await post(f"{base}/alertmanager", body(webhook([alert_json("ConsoleOnly")])))
            for _ in range(100):
                if "ConsoleOnly" in caplog.text:
                    break
                await asyncio.sleep(0.05)
            assert daemon.store.outbox_count() == 0

    asyncio.run(go())
    line = next(r.getMessage() for r in caplog.records if "ConsoleOnly" in r.getMessage())
    assert line.startswith("notification to console: ") and "CRITICAL ConsoleOnly" in line
