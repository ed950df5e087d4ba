"""The real thing end to end: Debian's Alertmanager -> the daemon process -> local Slack.

One Alertmanager, one daemon and one Slack server per module (fast); the SIGKILL test runs
its own daemon. Each test uses its own alert names and filters the Slack calls by them.
"""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from sre.devtools.fake_slack import Call, FakeSlack
from sre.features.alerts.signature import sign
from tests.helpers import free_port
from tests.helpers.alertmanager import Alertmanager, alert_json, webhook
from tests.helpers.daemon import DaemonProcess, base_config

pytestmark = pytest.mark.integration

TOKEN = "itest-am-token-5f1c"
GRACE = 3  # seconds an alert must be missing from Alertmanager before reconcile resolves it
SECRET = "itest-signing-secret-77"


@dataclass
class Stack:
    slack: FakeSlack
    am: Alertmanager
    daemon: DaemonProcess
    config: dict[str, Any]
    env: dict[str, str]


def daemon_config(tmp: Path, port: int, slack: FakeSlack, am_url: str) -> dict[str, Any]:
    config = base_config(
        tmp,
        alertmanager={"url": am_url},
        slack={
            "base_url": slack.base_url,
            "routes": [
                {"match": {"severity": "critical"}, "channel": "#alerts"},
                {"channel": "#devops-alerts"},
            ],
        },
    )
    config["daemon"].update(
        {
            "listen": f"127.0.0.1:{port}",
            "reconcile_interval": "1s",
            "reconcile_grace": f"{GRACE}s",
            "max_webhook_bytes": 65536,
        }
    )
    return config


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("alerts")
    port = free_port()
    receiver = {
        "name": "sre",
        "webhook_configs": [
            {
                "url": f"http://127.0.0.1:{port}/alertmanager",
                "send_resolved": True,
                "http_config": {"authorization": {"type": "Bearer", "credentials": TOKEN}},
            }
        ],
    }
    env = {"SRE_WEBHOOK_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET}
    with FakeSlack() as slack:
        env["SLACK_BOT_TOKEN"] = slack.token
        am = Alertmanager(tmp / "am", [receiver])
        config = daemon_config(tmp, port, slack, am.url)
        daemon = DaemonProcess(tmp, config, env=env)
        try:
            daemon.wait_ready()
            yield Stack(slack, am, daemon, config, env)
        finally:
            code = daemon.stop()
            am.stop()
        log = daemon.output()
        assert code == 0, log
        for secret in (TOKEN, SECRET, slack.token):
            assert secret not in log
        assert "Traceback" not in log, log


def http(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def post_webhook(daemon: DaemonProcess, payload: Any, token: str = TOKEN) -> tuple[int, str]:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return http(daemon.url("/alertmanager"), raw, {"Authorization": f"Bearer {token}"})


def about(slack: FakeSlack, name: str) -> list[Call]:
    return [c for c in list(slack.calls) if name in json.dumps(c.body)]


def wait_calls(slack: FakeSlack, name: str, count: int, timeout: float = 20) -> list[Call]:
    slack.wait_for(
        lambda s: len([c for c in s.calls if name in json.dumps(c.body)]) >= count, timeout
    )
    return about(slack, name)


def action(daemon: DaemonProcess, action_id: str, group_key: str, ts: float | None = None) -> int:
    payload = {
        "type": "block_actions",
        "user": {"id": "U42", "username": "alice"},
        "actions": [{"action_id": action_id, "value": json.dumps({"group_key": group_key})}],
    }
    raw = urlencode({"payload": json.dumps(payload)}).encode()
    stamp = str(int(ts if ts is not None else time.time()))
    headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": sign(SECRET, stamp, raw)}
    return http(daemon.url("/slack/actions"), raw, headers)[0]


def test_fire_then_resolve_through_alertmanager_updates_the_same_message(stack: Stack) -> None:
    stack.am.fire("ItestFire", severity="critical", service="api-service")
    (post,) = wait_calls(stack.slack, "ItestFire", 1)
    assert post.method == "chat.postMessage" and post.body["channel"] == "#alerts"
    text = json.dumps(post.body)
    assert "CRITICAL" in text and "ItestFire summary" in text and "service=api-service" in text
    assert f"{stack.am.url}/#/silences/new" in text  # the silence link
    ts = next(m.ts for m in stack.slack.messages.values() if "ItestFire" in json.dumps(m.body))
    stack.am.resolve("ItestFire", severity="critical", service="api-service")
    calls = wait_calls(stack.slack, "ItestFire", 2)
    update = calls[1]
    assert update.method == "chat.update" and update.body["ts"] == ts
    assert "RESOLVED" in update.body["text"] and "resolved after" in update.body["text"]
    assert update.body["attachments"][0]["color"] == "#2eb67d"


def test_duplicates_are_posted_once(stack: Stack) -> None:
    payload = webhook([alert_json("ItestDup", fingerprint="dup1")], group_key="dup-group")
    assert post_webhook(stack.daemon, payload) == (200, "queued\n")
    assert post_webhook(stack.daemon, payload) == (200, "duplicate\n")  # HA twin
    wait_calls(stack.slack, "ItestDup", 1)
    time.sleep(0.5)
    assert [c.method for c in about(stack.slack, "ItestDup")] == ["chat.postMessage"]
    metrics = stack.daemon.get("/metrics")[1]
    (line,) = [m for m in metrics.splitlines() if m.startswith("sre_alert_duplicates_total ")]
    assert float(line.split()[1]) >= 1


def test_statuses_for_bad_requests(stack: Stack) -> None:
    daemon = stack.daemon
    good = webhook([alert_json("ItestStatus")])
    assert post_webhook(daemon, good, token="wrong")[0] == 401
    assert post_webhook(daemon, b'{"version": "4"')[0] == 400
    status, text = post_webhook(daemon, {"version": "4", "status": "firing", "alerts": []})
    assert (status, text.strip()) == (400, "alerts: expected a non-empty list")
    assert post_webhook(daemon, b" " * 70000)[0] == 413
    assert action(daemon, "ack", "x", ts=time.time() - 3600) == 401  # expired
    raw = b"payload=%7B%7D"
    headers = {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=00"}
    assert http(daemon.url("/slack/actions"), raw, headers)[0] == 401  # bad signature


def test_slack_500_and_429_for_a_while_lose_nothing(stack: Stack) -> None:
    stack.slack.fail_next(4, 500)
    stack.slack.fail_next(3, 429, retry_after=1)
    names = [f"ItestOutage{i}" for i in range(3)]
    for name in names:
        stack.am.fire(name, severity="warning")
    for name in names:
        (post,) = wait_calls(stack.slack, name, 1, timeout=40)
        assert post.body["channel"] == "#devops-alerts"
    metrics = stack.daemon.get("/metrics")[1]
    assert 'sre_slack_deliveries_total{result="retry"}' in metrics
    assert 'sre_slack_deliveries_total{result="retry"} 0.0' not in metrics


def test_a_silence_from_the_button_shows_in_alertmanager(stack: Stack) -> None:
    stack.am.fire("ItestSilence", severity="critical", service="api-service")
    (post,) = wait_calls(stack.slack, "ItestSilence", 1)
    buttons = post.body["attachments"][0]["blocks"][-1]["elements"]
    group_key = json.loads(buttons[0]["value"])["group_key"]
    assert action(stack.daemon, "silence_1h", group_key) == 200
    calls = wait_calls(stack.slack, "silenced", 1)
    (silence,) = [s for s in stack.am.silences() if s["createdBy"] == "alice"]
    matchers = {m["name"]: m["value"] for m in silence["matchers"]}
    assert matchers["alertname"] == "ItestSilence"
    assert silence["status"]["state"] == "active"
    assert any(silence["id"] in json.dumps(c.body) for c in calls)


def test_reconcile_resolves_a_group_whose_resolve_never_arrived(stack: Stack) -> None:
    ghost = webhook([alert_json("ItestGhost", fingerprint="ghost1")], group_key="ghost")
    assert post_webhook(stack.daemon, ghost)[0] == 200  # Alertmanager never had it
    calls = wait_calls(stack.slack, "ItestGhost", 2, timeout=20)
    assert calls[1].method == "chat.update" and "RESOLVED" in calls[1].body["text"]
    # Not at the first pass that missed it (within 1 s): only after the grace period.
    assert calls[1].received_at - calls[0].received_at >= GRACE


def test_sigkill_between_receipt_and_delivery_delivers_after_restart(
    stack: Stack, tmp_path: Path
) -> None:
    with FakeSlack() as down, FakeSlack() as healthy:
        down.fail_next(10_000, 500)
        port = free_port()
        config = daemon_config(tmp_path, port, down, stack.am.url)
        env = {**stack.env, "SLACK_BOT_TOKEN": down.token}
        first = DaemonProcess(tmp_path, config, env=env)
        first.wait_ready()
        payload = webhook([alert_json("ItestKill", fingerprint="kill1")], group_key="kill")
        assert post_webhook(first, payload) == (200, "queued\n")
        time.sleep(0.3)
        assert first.stop(signal.SIGKILL) == -signal.SIGKILL
        assert not healthy.calls
        config["slack"]["base_url"] = healthy.base_url
        second = DaemonProcess(tmp_path, config, env=env, name="restart.yaml")
        second.wait_ready()
        try:
            (post,) = wait_calls(healthy, "ItestKill", 1)
            assert post.method == "chat.postMessage"
            assert post_webhook(second, payload) == (200, "duplicate\n")
        finally:
            assert second.stop() == 0
