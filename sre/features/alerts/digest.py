"""Digests: what a channel shows during an alert storm (pure: decisions and Block Kit).

When posting every waiting group on its own would take a channel longer than
``slack.digest_after`` (Slack allows about one post a second per channel), the channel
gets one digest message instead. It names every group waiting (alert name, service,
severity, how many alerts), its thread holds the details, and it is updated as groups
resolve. Critical groups still get their own message while the channel can post them in
time: only what does not fit goes into the digest, oldest critical groups first. When the
backlog has drained to half of what fits, the digest closes and new groups get their own
messages again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sre.features.alerts.messages import (
    RESOLVED_STYLE,
    SECTION_TEXT_LIMIT,
    SEVERITY_STYLE,
    cap,
    human_duration,
)
from sre.features.alerts.model import Notification

MAX_SECTIONS = 45  # of Slack's 50 blocks a message, leaving room for the title and context
CRITICAL = 0


def priority_of(severity: str) -> int:
    """Delivery order: critical before warning before the rest."""
    return {"critical": 0, "warning": 1}.get(severity, 2)


@dataclass(frozen=True)
class Waiting:
    """A group in a channel whose first message is not posted yet."""

    lane: str
    item_id: int
    priority: int


def split_storm(
    waiting: Sequence[Waiting], *, capacity: int, digest_open: bool
) -> tuple[list[Waiting], list[Waiting]]:
    """``(post on their own, put in the digest)``. ``capacity``: how many posts the
    channel makes within the bound. No storm (everything fits, no digest open): all own."""
    if len(waiting) <= capacity and not digest_open:
        return list(waiting), []
    criticals = sorted((w for w in waiting if w.priority == CRITICAL), key=lambda w: w.item_id)
    own = criticals[: max(0, capacity)]
    chosen = {w.lane for w in own}
    return own, [w for w in waiting if w.lane not in chosen]


def storm_over(waiting: int, capacity: int) -> bool:
    """The backlog has drained (hysteresis: half of what fits), so the digest may close."""
    return waiting <= capacity // 2


@dataclass(frozen=True)
class Member:
    """One group as its digest shows it."""

    group_key: str
    alertname: str
    service: str
    severity: str
    firing: int
    resolved: bool
    summary: str = ""

    @classmethod
    def of(cls, group_key: str, view: Notification | None, resolved: bool) -> Member:
        labels = dict(view.common_labels) if view else {}
        first = view.alerts[0] if view and view.alerts else None
        notes = {
            **(first.annotations if first else {}),
            **(view.common_annotations if view else {}),
        }
        return cls(
            group_key=group_key,
            alertname=labels.get("alertname") or (first.name if first else "alerts"),
            service=labels.get("service") or (view.group_labels.get("service", "") if view else ""),
            severity=labels.get("severity")
            or (first.labels.get("severity", "warning") if first else "warning"),
            firing=len(view.firing) if view else 0,
            resolved=resolved,
            summary=notes.get("summary") or notes.get("description", ""),
        )

    def line(self) -> str:
        emoji = SEVERITY_STYLE.get(self.severity, SEVERITY_STYLE["warning"])[1]
        service = f" `{self.service}`" if self.service else ""
        if self.resolved:
            return f"• {RESOLVED_STYLE[1]} ~*{self.alertname}*{service} {self.severity}~ resolved"
        return f"• {emoji} *{self.alertname}*{service} {self.severity} ×{self.firing}"


def _sections(lines: Sequence[str], limit: int) -> tuple[list[dict[str, Any]], int]:
    """Lines packed into at most ``limit`` section blocks; and how many did not fit."""
    blocks: list[dict[str, Any]] = []
    text = ""
    for shown, line in enumerate(lines):
        if len(text) + len(line) + 1 > SECTION_TEXT_LIMIT:
            if len(blocks) == limit - 1:
                blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
                return blocks, len(lines) - shown
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
            text = ""
        text += ("\n" if text else "") + cap(line)
    if text:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    return blocks, 0


def digest_message(
    channel: str, members: Sequence[Member], *, opened_at: float, now: float, open_: bool
) -> dict[str, Any]:
    """The digest itself: a title with the counts, then one line per group."""
    firing = [m for m in members if not m.resolved]
    critical = sum(1 for m in firing if m.severity == "critical")
    title = (
        f":rotating_light: *Alert storm in {channel}*: {len(members)} groups, "
        f"{len(firing)} firing ({critical} critical), {len(members) - len(firing)} resolved"
    )
    state = "collecting new groups" if open_ else "closed: new groups get their own messages"
    context = f"since {human_duration(now - opened_at)} ago · {state} · details in the thread"
    ordered = sorted(members, key=lambda m: (m.resolved, priority_of(m.severity), m.group_key))
    body, hidden = _sections([m.line() for m in ordered], MAX_SECTIONS)
    if hidden:
        body.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"…and {hidden} more"}]}
        )
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": cap(title)}},
        *body,
        {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
    ]
    color = (
        SEVERITY_STYLE["critical" if critical else "warning"][0] if firing else RESOLVED_STYLE[0]
    )
    fallback = title.replace("*", "").replace(":rotating_light: ", "")
    return {"text": fallback, "attachments": [{"color": color, "blocks": blocks}]}


def detail_reply(members: Sequence[Member]) -> dict[str, Any]:
    """One thread reply with the details of some of the digest's groups."""
    lines = [
        f"*{m.alertname}*{f' `{m.service}`' if m.service else ''} ({m.severity}): "
        f"{m.summary or 'no summary'}"
        for m in members
    ]
    blocks, _ = _sections(lines, MAX_SECTIONS)
    return {"text": f"Details of {len(members)} group(s)", "blocks": blocks}


def detail_batches(members: Sequence[Member], size: int = 40) -> list[list[Member]]:
    """The details in replies of ``size`` groups (each reply stays within Block Kit limits)."""
    return [list(members[i : i + size]) for i in range(0, len(members), size)]
