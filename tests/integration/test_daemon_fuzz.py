"""Hostile input against the real daemon process (issue 11): random and mangled
Alertmanager webhooks and Slack action requests. Nothing a client sends gets a 5xx or a
traceback, and every body answered 200 is delivered: none is accepted and then dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sre.devtools.fake_slack import FakeSlack
from tests.helpers.daemon import DaemonProcess, base_config
from tests.unit.test_alerts_receiver import bodies as mangled_bodies
from tests.unit.test_alerts_receiver import json_values

pytestmark = pytest.mark.integration
WEBHOOK_TOKEN = "itest-webhook-token"
SIGNING_SECRET = "fuzz-signing-secret"

# Webhooks that are valid in shape, with hostile text where Alertmanager puts free text:
# any Unicode (lone surrogates too, escaped in JSON), long values, odd label names.
# (Long values are a short text repeated: cheap to draw, so hypothesis does not give up.)
text = st.text(max_size=40) | st.text(min_size=1, max_size=4).map(lambda t: t * 1000)
labels = st.dictionaries(st.text(min_size=1, max_size=20), text, max_size=6)
alert = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["firing", "resolved"]),
        "labels": labels.map(lambda d: {"alertname": "Fuzz", **d}),
        "annotations": labels,
        "startsAt": st.sampled_from(["2026-11-26T20:00:00Z", "2026-11-26T20:00:00.123+01:00"]),
        "endsAt": st.just("0001-01-01T00:00:00Z"),
        "fingerprint": st.text(min_size=1, max_size=16),
        "generatorURL": text,
    }
)
webhook = st.fixed_dictionaries(
    {
        "version": st.just("4"),
        "status": st.sampled_from(["firing", "resolved"]),
        "receiver": text,
        "groupKey": st.text(min_size=1, max_size=300),
        "truncatedAlerts": st.integers(0, 5),
        "groupLabels": labels,
        "commonLabels": labels,
        "commonAnnotations": labels,
        "externalURL": text,
        "alerts": st.lists(alert, min_size=1, max_size=4),
    },
    optional={"notification_reason": text, "extra": json_values},
)
webhook_bodies = webhook.map(lambda d: json.dumps(d).encode()) | mangled_bodies


def slack_signed(body: bytes, stamp: str, secret: str = SIGNING_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


action_payloads = st.fixed_dictionaries(
    {"type": st.sampled_from(["block_actions", "view_submission"]) | json_values},
    optional={
        "user": json_values | st.fixed_dictionaries({"id": text, "username": text}),
        "channel": json_values | st.fixed_dictionaries({"id": text}),
        "actions": json_values
        | st.lists(
            st.fixed_dictionaries(
                {
                    "action_id": st.sampled_from(["ack", "silence_1h", "rollback", "x"]),
                    "value": text | json_values.map(json.dumps),
                }
            ),
            max_size=3,
        ),
    },
)
action_bodies = action_payloads.map(lambda p: b"payload=" + json.dumps(p).encode()) | st.binary(
    max_size=200
)
KINDS = ("signed", "bad-signature", "long-timestamp", "no-headers")  # taken in turn


def collect(strategy: Any, count: int) -> list[Any]:
    found: list[Any] = []

    @settings(max_examples=count, deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def one(sample: Any) -> None:
        found.append(sample)

    one()
    return found


def headers_for(kind: str, body: bytes) -> dict[str, str]:
    now = str(int(time.time()))
    if kind == "signed":
        return slack_signed(body, now)
    if kind == "bad-signature":
        return slack_signed(body, now, secret="not-the-secret")
    if kind == "long-timestamp":
        return slack_signed(body, "9" * 400)
    return {}


def outbox_states(state_db: Path) -> dict[str, int]:
    with sqlite3.connect(state_db) as db:
        rows = db.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall()
    return {str(status): int(count) for status, count in rows}


def test_hostile_input_gets_no_5xx_and_nothing_accepted_is_dropped(tmp_path: Path) -> None:
    webhooks = collect(webhook_bodies, 300)
    actions = [(KINDS[i % len(KINDS)], b) for i, b in enumerate(collect(action_bodies, 200))]
    # No rate limit on this Slack: the daemon's own pacing still applies, and accepted
    # groups in one channel go out as a digest when they pile up.
    with FakeSlack(post_per_second=None, tier3_per_minute=None) as slack:
        config = base_config(tmp_path)
        config["slack"] = {
            "base_url": slack.base_url,
            "routes": [{"channel": "#alerts"}],
            "digest_after": "5s",
        }
        env = {"SLACK_BOT_TOKEN": slack.token, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
        daemon = DaemonProcess(tmp_path, config, env=env)
        daemon.wait_ready()
        hooks: Counter[int] = Counter()
        presses: Counter[int] = Counter()
        try:
            for body in webhooks:
                hooks[daemon.request("POST", "/alertmanager", body, WEBHOOK_TOKEN)[0]] += 1
            for kind, body in actions:
                headers = headers_for(kind, body)
                presses[daemon.request("POST", "/slack/actions", body, headers=headers)[0]] += 1
            assert max(hooks | presses) < 500, (hooks, presses)
            # Both sides of the line were exercised.
            assert hooks[200] >= 20 and hooks[400] >= 100, hooks
            assert presses[200] >= 10 and presses[401] >= 100, presses
            # Everything accepted reaches Slack: the outbox drains, nothing failed.
            deadline = time.monotonic() + 120
            while daemon.metric("sre_outbox_pending") != 0:
                assert time.monotonic() < deadline, "the outbox never drained"
                time.sleep(0.5)
        finally:
            assert daemon.stop() == 0
        states = outbox_states(tmp_path / "state" / "state.db")
        assert states.get("failed", 0) == 0, states
        assert states.get("pending", 0) == 0, states
        assert slack.top_level(), "nothing reached Slack"
    output = daemon.output()
    assert "Traceback" not in output
    assert "ERROR" not in output, output[-3000:]
