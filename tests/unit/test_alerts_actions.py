"""POST /slack/actions in-process: signature checks, Acknowledge, the Roll back button (shown
only with a rollback executor and a target), and the Slack client's error classification."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from sre.clients.slack import classify
from sre.daemon.app import FeatureBuilder, Parts
from sre.devtools.fake_slack import FakeSlack
from sre.features.alerts.feature import AlertsFeature, slack_poster
from sre.features.alerts.signature import sign
from sre.runtime.feature import Feature
from tests.helpers.alertmanager import alert_json, webhook
from tests.unit.test_alerts_receiver import body, env, make_config, post, running

__all__ = ["env"]
SECRET = "signing-secret-abc"
GROUP = '{}:{alertname="ServiceHighErrorRate"}'


def action_body(
    action_id: str,
    value: dict[str, str] | str,
    user: str = "U1",
    channel: str | None = None,
) -> bytes:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": "alice"},
        "actions": [
            {
                "action_id": action_id,
                "value": value if isinstance(value, str) else json.dumps(value),
            }
        ],
    }
    if channel is not None:  # where the button was pressed (Slack sends it)
        payload["channel"] = {"id": channel, "name": "alerts"}
        payload["container"] = {"type": "message", "message_ts": "1.2", "thread_ts": "1.1"}
    return urlencode({"payload": json.dumps(payload)}).encode()


def signed(raw: bytes, ts: float | None = None, secret: str = SECRET) -> dict[str, str]:
    stamp = str(int(ts if ts is not None else time.time()))
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": sign(secret, stamp, raw),
        "Content-Type": "application/x-www-form-urlencoded",
    }


class Rollbacks:
    """The rollback feature as the alerts feature sees it (``actions.ManualRollback``)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str]] = []
        self.ready = False  # no target yet: no button

    def has_target(self, service: str) -> bool:
        return self.ready and service == "api-service"

    async def request(self, service: str, *, requested_by: str, reason: str) -> str:
        self.requests.append((service, requested_by, reason))
        return f"{service} rolled back to revision 40"


def test_signature_checks(tmp_path: Path) -> None:
    raw = action_body("ack", {"group_key": GROUP})

    async def go() -> None:
        async with running(make_config(tmp_path, FakeSlack())) as (daemon, base):
            url = f"{base}/slack/actions"
            assert (await post(url, raw, signed(raw, secret="other")))[0] == 401
            status, text = await post(url, raw, signed(raw, ts=time.time() - 600))
            assert (status, text.strip()) == (401, "timestamp outside the 5-minute replay window")
            assert (await post(url, raw, {}))[0] == 401
            tampered = raw.replace(b"ack", b"abc")
            assert (await post(url, tampered, signed(raw)))[0] == 401
            odd = {**signed(raw), "X-Slack-Signature": "v0=\u00e9"}  # non-ASCII header
            assert (await post(url, raw, odd))[0] == 401
            junk = b"payload=%7Bnot-json"
            assert (await post(url, junk, signed(junk)))[0] == 400
            assert (await post(url, raw, signed(raw)))[0] == 200  # unknown group: 200, error
            await asyncio.sleep(0.1)
            reg = daemon.registry
            assert (
                reg.get_sample_value(
                    "sre_slack_actions_total", {"action": "ack", "result": "error"}
                )
                == 1
            )

    asyncio.run(go())


def alerts_with(rollbacks: Rollbacks) -> FeatureBuilder:
    """The daemon with the alerts feature alone, wired to a stand-in rollback feature."""

    def build(p: Parts) -> list[Feature]:
        cfg = p.config
        alerts = AlertsFeature(
            cfg.daemon,
            cfg.slack,
            cfg.alertmanager,
            poster=slack_poster(cfg.slack, p.env),
            alertmanager_client=None,
            rollbacks=rollbacks,
            store=p.store,
            notices=p.notices,
            registry=p.registry,
            clock=p.clock,
            env=p.env,
        )
        return [alerts]

    return build


def test_acknowledge_and_roll_back(tmp_path: Path) -> None:
    rollbacks = Rollbacks()
    with FakeSlack() as slack:

        async def go() -> None:
            cfg = make_config(tmp_path, slack)
            async with running(cfg, features=alerts_with(rollbacks)) as (daemon, base):
                first = alert_json(service="api-service", fingerprint="f1")
                await post(f"{base}/alertmanager", body(webhook([first])))
                await asyncio.to_thread(slack.wait_for, lambda s: len(s.calls) >= 1)
                assert "Roll back" not in json.dumps(slack.calls[0].body)  # no executor yet
                rollbacks.ready = True
                # A button naming its group by digest (for keys too long for a button
                # value) acts on the same group.
                digest = hashlib.sha256(GROUP.encode()).hexdigest()
                raw = action_body("ack", {"group_sha256": digest})
                started = time.monotonic()
                assert (await post(f"{base}/slack/actions", raw, signed(raw)))[0] == 200
                assert time.monotonic() - started < 3
                await asyncio.to_thread(slack.wait_for, lambda s: len(s.calls) >= 2)
                update = slack.calls[1]
                assert update.method == "chat.update"
                text = json.dumps(update.body)
                assert "acknowledged by <@U1> at <!date^" in text
                assert "Roll back" in text and "confirm" in text  # now offered, with a dialog
                value = {"group_key": GROUP, "service": "api-service"}
                raw = action_body("rollback", value)
                assert (await post(f"{base}/slack/actions", raw, signed(raw)))[0] == 200
                await asyncio.to_thread(slack.wait_for, lambda s: len(s.calls) >= 3)
                assert rollbacks.requests[0][:2] == ("api-service", "alice")
                note = slack.calls[2].body
                assert "rolled back to revision 40" in note["text"] and note["thread_ts"]
                raw = action_body("silence_1h", {"group_key": GROUP}, channel="C42")
                await post(f"{base}/slack/actions", raw, signed(raw))
                # The failure is told to whoever pressed the button, privately.
                await asyncio.to_thread(slack.wait_for, lambda s: len(s.calls) >= 4)
                reply = slack.calls[3]
                assert reply.method == "chat.postEphemeral"
                assert (reply.body["channel"], reply.body["user"]) == ("C42", "U1")
                assert reply.body["thread_ts"] == "1.1"
                assert reply.body["text"] == "Silence 1h did not work: no alertmanager configured"
                reg = daemon.registry

                def count(action: str, result: str) -> Any:
                    labels = {"action": action, "result": result}
                    return reg.get_sample_value("sre_slack_actions_total", labels)

                assert (count("ack", "ok"), count("rollback", "ok")) == (1, 1)
                assert count("silence_1h", "error") == 1  # no alertmanager section
                audit = daemon.store.audit_list("slack_action")
                assert [a.subject for a in audit] == ["silence_1h", "rollback", "ack"]

        asyncio.run(go())


def test_failure_replies_are_retried_when_refused_never_sent_twice(tmp_path: Path) -> None:
    with FakeSlack() as slack:

        async def go() -> None:
            cfg = make_config(tmp_path, slack)
            async with running(cfg, features=alerts_with(Rollbacks())) as (_daemon, base):
                await post(f"{base}/alertmanager", body(webhook([alert_json(fingerprint="f")])))
                await asyncio.to_thread(slack.wait_for, lambda s: len(s.calls) >= 1)
                replies = lambda s: s.posts("chat.postEphemeral")  # noqa: E731
                # A 429 is a refusal (nothing shown): the reply waits and goes again.
                slack.fail_next(1, 429, retry_after=1, method="chat.postEphemeral")
                raw = action_body("silence_1h", {"group_key": GROUP}, channel="C42")
                await post(f"{base}/slack/actions", raw, signed(raw))
                await asyncio.to_thread(slack.wait_for, lambda s: len(replies(s)) >= 1)
                # A dropped connection may have shown it: Slack keeps no copy to look up,
                # so it is not sent again.
                slack.drop_next(1, method="chat.postEphemeral")
                await post(f"{base}/slack/actions", raw, signed(raw))
                await asyncio.to_thread(slack.wait_for, lambda s: len(replies(s)) >= 2)
                await asyncio.sleep(1.5)
                assert len(replies(slack)) == 2

        asyncio.run(go())


def _api_error(status: int, data: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    response = AsyncSlackResponse(
        client=None,
        http_verb="POST",
        api_url="http://x/api/chat.postMessage",
        req_args={},
        data=data,
        headers=headers or {},
        status_code=status,
    )
    return SlackApiError("failed", response)


@pytest.mark.parametrize(
    ("err", "reason", "retryable", "retry_after"),
    [
        (_api_error(500, {"ok": False, "error": "internal_error"}), "server_error", True, None),
        (_api_error(503, {}), "server_error", True, None),
        (_api_error(429, {"ok": False}, {"Retry-After": "30"}), "throttled", True, 30.0),
        (_api_error(200, {"ok": False, "error": "channel_not_found"}), "api", False, None),
        (_api_error(200, {"ok": False, "error": "not_in_channel"}), "api", False, None),
        (_api_error(200, {"ok": False, "error": "invalid_auth"}), "auth", False, None),
        (TimeoutError(), "timeout", True, None),
        (ConnectionRefusedError(), "unreachable", True, None),
    ],
)
def test_slack_errors_are_classified_in_one_place(
    err: BaseException, reason: str, retryable: bool, retry_after: float | None
) -> None:
    got = classify(err)
    assert (got.reason, got.retryable, got.retry_after) == (reason, retryable, retry_after)
    if isinstance(err, SlackApiError) and err.response.data.get("error"):
        assert got.code == err.response.data["error"]  # Slack's code is a field, not text
    assert "xoxb" not in str(got)
