"""Slack Block Kit for one alert group: pure functions from group state to message JSON.

One message per Alertmanager group. Its colour and emoji follow severity while it fires
and turn green when it resolves ("resolved after 12m"). Buttons let people acknowledge,
silence (1h / 4h) or, where a service has a rollback target, ask for a rollback.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from sre.features.alerts.model import Alert
from sre.runtime.notices import Notice

SEVERITY_STYLE = {
    "critical": ("#d72b3f", ":red_circle:"),
    "warning": ("#f2c744", ":large_orange_circle:"),
    "info": ("#439fe0", ":large_blue_circle:"),
}
RESOLVED_STYLE = ("#2eb67d", ":white_check_mark:")
# Labels that identify an alert but say nothing a reader needs twice.
HIDDEN_LABELS = frozenset({"alertname", "severity", "prometheus", "environment", "__name__"})
MAX_ALERTS_SHOWN = 10
# Slack's documented Block Kit limits (a message over them is rejected with invalid_blocks,
# a permanent error): section text 3000 characters, field and context text and button
# values 2000. We stay a little under each.
SECTION_TEXT_LIMIT = 2900
SHORT_TEXT_LIMIT = 1900
BUTTON_VALUE_LIMIT = 1900


def cap(text: str, limit: int = SECTION_TEXT_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def group_ref(group_key: str) -> dict[str, str]:
    """What a button carries to name its group: the key, or its SHA-256 when the key is too
    long for a button value (the actions route then finds the group by that digest)."""
    if len(json.dumps({"group_key": group_key})) + 100 <= BUTTON_VALUE_LIMIT:
        return {"group_key": group_key}
    return {"group_sha256": hashlib.sha256(group_key.encode()).hexdigest()}


@dataclass(frozen=True)
class GroupView:
    """Everything the message shows about one alert group at one moment."""

    group_key: str
    status: str  # firing | resolved
    alerts: Sequence[Alert]
    common_labels: Mapping[str, str]
    common_annotations: Mapping[str, str]
    alertmanager_url: str
    started_at: float | None = None
    resolved_at: float | None = None
    acknowledged_by: str | None = None
    acknowledged_at: float | None = None
    silence_url: str | None = None
    silenced_by: str | None = None
    rollback_service: str | None = None  # set only when a rollback executor exists


def human_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h" if hours else f"{days}d"


def slack_date(epoch: float) -> str:
    """Slack's date token: shown in each reader's time zone, with a UTC fallback."""
    fallback = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(epoch)}^{{date_short_pretty}} {{time}}|{fallback}>"


def silence_link(alertmanager_url: str, labels: Mapping[str, str]) -> str:
    """Alertmanager UI link that opens a new silence pre-filled with ``labels``."""
    matchers = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{alertmanager_url.rstrip('/')}/#/silences/new?filter={quote('{' + matchers + '}')}"


def _severity(view: GroupView) -> str:
    return view.common_labels.get("severity") or (
        view.alerts[0].labels.get("severity", "warning") if view.alerts else "warning"
    )


def _links(view: GroupView) -> str:
    first = view.alerts[0] if view.alerts else None
    annotations = {**(first.annotations if first else {}), **view.common_annotations}
    links = []
    if annotations.get("runbook_url"):
        links.append(f"<{annotations['runbook_url']}|Runbook>")
    if annotations.get("dashboard_url"):
        links.append(f"<{annotations['dashboard_url']}|Dashboard>")
    if first and first.generator_url:
        links.append(f"<{first.generator_url}|Prometheus>")
    if view.alertmanager_url:
        links.append(f"<{silence_link(view.alertmanager_url, view.common_labels)}|Silence…>")
    return " · ".join(links)


def _title(view: GroupView, now: float) -> str:
    name = view.common_labels.get("alertname", "alerts")
    if view.status == "resolved":
        took = ""
        if view.started_at is not None:
            end = view.resolved_at if view.resolved_at is not None else now
            took = f" after {human_duration(end - view.started_at)}"
        return f"{RESOLVED_STYLE[1]} *RESOLVED* {name} — resolved{took}"
    emoji = SEVERITY_STYLE.get(_severity(view), SEVERITY_STYLE["warning"])[1]
    count = len([a for a in view.alerts if a.status == "firing"])
    return f"{emoji} *{_severity(view).upper()}* {name} — {count} firing"


def _alert_lines(view: GroupView) -> str:
    lines = []
    for alert in list(view.alerts)[:MAX_ALERTS_SHOWN]:
        shown = {
            k: v
            for k, v in sorted(alert.labels.items())
            if k not in HIDDEN_LABELS and view.common_labels.get(k) != v
        }
        text = alert.annotations.get("description") or alert.annotations.get("summary", "")
        mark = "~" if alert.status == "resolved" else ""
        label_text = ", ".join(f"`{k}={v}`" for k, v in shown.items())
        lines.append(f"• {mark}{text}{mark} {label_text}".rstrip())
    hidden = len(view.alerts) - MAX_ALERTS_SHOWN
    if hidden > 0:
        lines.append(f"…and {hidden} more")
    return "\n".join(lines)


def message(view: GroupView, *, now: float) -> dict[str, Any]:
    """``{"text": ..., "attachments": [...]}`` for chat.postMessage / chat.update."""
    color = (
        RESOLVED_STYLE[0]
        if view.status == "resolved"
        else (SEVERITY_STYLE.get(_severity(view), SEVERITY_STYLE["warning"])[0])
    )
    summary = view.common_annotations.get("summary") or (
        view.alerts[0].annotations.get("summary", "") if view.alerts else ""
    )
    common = {k: v for k, v in sorted(view.common_labels.items()) if k not in HIDDEN_LABELS}
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": cap(_title(view, now))}},
    ]
    if summary:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": cap(summary)}})
    details = _alert_lines(view)
    if details:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": cap(details)}})
    context = []
    if common:
        context.append(" ".join(f"`{k}={v}`" for k, v in common.items()))
    if view.acknowledged_by:
        when = f" at {slack_date(view.acknowledged_at)}" if view.acknowledged_at else ""
        context.append(f":eyes: acknowledged by <@{view.acknowledged_by}>{when}")
    if view.silence_url:
        who = f" by <@{view.silenced_by}>" if view.silenced_by else ""
        context.append(f":mute: <{view.silence_url}|silenced>{who}")
    links = _links(view)
    if links:
        context.append(links)
    if context:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": cap(c, SHORT_TEXT_LIMIT)} for c in context],
            }
        )
    if view.status == "firing":
        blocks.append({"type": "actions", "elements": _buttons(view)})
    fallback = _title(view, now).replace("*", "")
    return {"text": fallback, "attachments": [{"color": color, "blocks": blocks}]}


def _button(text: str, action_id: str, value: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": json.dumps(value, sort_keys=True),
        **extra,
    }


def _buttons(view: GroupView) -> list[dict[str, Any]]:
    ref = group_ref(view.group_key)
    buttons = [
        _button("Acknowledge", "ack", ref),
        _button("Silence 1h", "silence_1h", ref),
        _button("Silence 4h", "silence_4h", ref),
    ]
    if view.rollback_service:
        buttons.append(
            _button(
                "Roll back",
                "rollback",
                {**ref, "service": view.rollback_service},
                style="danger",
                confirm={
                    "title": {"type": "plain_text", "text": "Roll back?"},
                    "text": {
                        "type": "mrkdwn",
                        "text": f"Roll *{view.rollback_service}* back to its previous revision?",
                    },
                    "confirm": {"type": "plain_text", "text": "Roll back"},
                    "deny": {"type": "plain_text", "text": "Cancel"},
                },
            )
        )
    return buttons


def thread_reply(alerts: Sequence[Alert], status: str) -> str:
    """The short thread note added when a group changes (re-fire, new alert, resolve)."""
    names = ", ".join(sorted({a.name for a in alerts}))
    verb = "resolved" if status == "resolved" else "firing"
    return f"{len(alerts)} alert(s) {verb}: {names}"


def notice_message(notice: Notice) -> dict[str, Any]:
    """A feature's announcement (rollback, cost, backup) as one Block Kit message."""
    color, emoji = (
        RESOLVED_STYLE
        if notice.severity == "resolved"
        else SEVERITY_STYLE.get(notice.severity, SEVERITY_STYLE["info"])
    )
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": cap(f"{emoji} *{notice.title}*")}},
    ]
    if notice.text:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": cap(notice.text)}})
    fields = [
        {"type": "mrkdwn", "text": cap(f"*{name}*\n{value}", SHORT_TEXT_LIMIT)}
        for name, value in list(notice.fields.items())[:10]
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"sre · {notice.source}"}]}
    )
    return {"text": notice.title, "attachments": [{"color": color, "blocks": blocks}]}
