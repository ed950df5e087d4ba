"""Block Kit messages for alert groups: severity styles, links, resolve in green, buttons."""

from __future__ import annotations

import json
from typing import Any

from sre.features.alerts.messages import GroupView, human_duration, message, silence_link
from sre.features.alerts.model import Alert

STARTED = 1_795_723_200.0


def alert(status: str = "firing", pod: str = "api-1") -> Alert:
    return Alert(
        status=status,
        labels={
            "alertname": "ServiceHighErrorRate",
            "severity": "critical",
            "service": "api-service",
            "pod": pod,
        },
        annotations={
            "summary": "High error rate",
            "description": "api-service answers 12% 5xx",
            "runbook_url": "https://git.example.com/runbooks/ServiceHighErrorRate.md",
            "dashboard_url": "http://grafana/d/parallel-ai-service-performance",
        },
        starts_at="2026-11-26T20:00:00Z",
        ends_at="",
        generator_url="http://prometheus/graph?g0.expr=x",
        fingerprint=f"fp-{pod}",
    )


def view(**overrides: Any) -> GroupView:
    base: dict[str, Any] = {
        "group_key": '{}:{alertname="ServiceHighErrorRate"}',
        "status": "firing",
        "alerts": [alert(pod="api-1"), alert(pod="api-2")],
        "common_labels": {
            "alertname": "ServiceHighErrorRate",
            "severity": "critical",
            "service": "api-service",
        },
        "common_annotations": {"summary": "High error rate"},
        "alertmanager_url": "http://alertmanager:9093",
        "started_at": STARTED,
    }
    base.update(overrides)
    return GroupView(**base)


def text_of(msg: dict[str, Any]) -> str:
    return json.dumps(msg)


def test_firing_message_shows_severity_summary_labels_and_links() -> None:
    msg = message(view(), now=STARTED + 60)
    (attachment,) = msg["attachments"]
    assert attachment["color"] == "#d72b3f"
    blocks = attachment["blocks"]
    assert blocks[0]["text"]["text"] == ":red_circle: *CRITICAL* ServiceHighErrorRate — 2 firing"
    assert blocks[1]["text"]["text"] == "High error rate"
    assert "`pod=api-1`" in blocks[2]["text"]["text"]
    assert "`service=api-service`" not in blocks[2]["text"]["text"]  # common: shown once
    context = " ".join(e["text"] for e in blocks[3]["elements"])
    assert "`service=api-service`" in context
    for link in ("|Runbook>", "|Dashboard>", "|Prometheus>", "|Silence…>"):
        assert link in context
    actions = blocks[-1]["elements"]
    assert [b["action_id"] for b in actions] == ["ack", "silence_1h", "silence_4h"]
    assert msg["text"] == ":red_circle: CRITICAL ServiceHighErrorRate — 2 firing"


def test_resolved_message_turns_green_with_duration_and_no_buttons() -> None:
    resolved = view(
        status="resolved",
        alerts=[alert("resolved")],
        resolved_at=STARTED + 12 * 60,
    )
    msg = message(resolved, now=STARTED + 3600)
    (attachment,) = msg["attachments"]
    assert attachment["color"] == "#2eb67d"
    title = attachment["blocks"][0]["text"]["text"]
    assert title == ":white_check_mark: *RESOLVED* ServiceHighErrorRate — resolved after 12m"
    assert all(b["type"] != "actions" for b in attachment["blocks"])


def test_rollback_button_only_with_a_target_and_asks_for_confirmation() -> None:
    msg = message(view(rollback_service="api-service"), now=STARTED)
    buttons = msg["attachments"][0]["blocks"][-1]["elements"]
    rollback = buttons[-1]
    assert rollback["action_id"] == "rollback"
    assert rollback["confirm"]["title"]["text"] == "Roll back?"
    assert json.loads(rollback["value"])["service"] == "api-service"


def test_ack_and_silence_are_shown() -> None:
    msg = message(
        view(acknowledged_by="U123", silence_url="http://am/#/silences/abc", silenced_by="U9"),
        now=STARTED,
    )
    text = text_of(msg)
    assert "acknowledged by <@U123>" in text
    assert "<http://am/#/silences/abc|silenced> by <@U9>" in text


def test_silence_link_prefills_matchers() -> None:
    link = silence_link("http://am:9093/", {"service": "api", "alertname": "X"})
    assert link == (
        "http://am:9093/#/silences/new?filter=%7Balertname%3D%22X%22%2Cservice%3D%22api%22%7D"
    )


def test_human_duration() -> None:
    assert [human_duration(s) for s in (5, 720, 3600, 5400, 90000)] == [
        "5s",
        "12m",
        "1h",
        "1h30m",
        "1d1h",
    ]


def test_large_groups_stay_within_slack_block_limits() -> None:
    from sre.devtools.fake_slack import _breaks_block_limits

    long_text = "x" * 3500
    many = [alert(pod=f"api-{i}") for i in range(12)]
    many = [
        Alert(
            status=a.status,
            labels={**a.labels, "detail": "y" * 300},
            annotations={**a.annotations, "description": "d" * 350},
            starts_at=a.starts_at,
            ends_at=a.ends_at,
            generator_url=a.generator_url,
            fingerprint=a.fingerprint,
        )
        for a in many
    ]
    big = view(
        alerts=many,
        group_key="{}:{" + ",".join(f'l{i}="{"v" * 50}"' for i in range(60)) + "}",
        common_annotations={"summary": long_text},
        rollback_service="api-service",
    )
    msg = message(big, now=STARTED)
    assert not _breaks_block_limits(msg)
    buttons = msg["attachments"][0]["blocks"][-1]["elements"]
    ref = json.loads(buttons[0]["value"])
    assert set(ref) == {"group_sha256"}  # the key itself is too long for a button value
    # The same message without the caps is what Slack rejects.
    assert _breaks_block_limits(
        {"attachments": [{"blocks": [{"type": "section", "text": {"text": long_text}}]}]}
    )
