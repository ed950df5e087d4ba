"""What the backup feature tells people: a backup starts failing, or recovers (once each)."""

from __future__ import annotations

from sre.features.backups.state import Status
from sre.runtime.notices import Notice


def transition_notice(backup: str, change: str, status: Status) -> Notice:
    """``change``: ``failed`` or ``recovered``; the key counts the transitions, so each
    change is announced once, restarts included."""
    bad = [(step, pair[1]) for step, pair in sorted(status.steps.items()) if pair[0] == "fail"]
    if change == "failed":
        title = f"Backup {backup} failed verification"
        text = "\n".join(f"• *{step}*: {reason}" for step, reason in bad)
        severity = "critical"
    else:
        title = f"Backup {backup} verified again"
        text = "Every verification step passes again."
        severity = "resolved"
    return Notice(
        key=f"backup.{change}:{backup}:{status.transitions}",
        title=title,
        text=text,
        severity=severity,
        source="backup",
        fields={"backup": backup, "steps": ", ".join(s for s, _ in bad) or "-"},
        labels={"backup": backup},
    )
