"""What the rollback feature tells people: a rollback (or dry run) and its result, and a
trigger that cannot decide. Pure functions from audit records to notices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sre.runtime.notices import Notice


def _seen(verdicts: Sequence[Mapping[str, Any]]) -> str:
    lines = []
    for v in verdicts:
        span = ""
        if v.get("min") is not None:
            span = f" (min {v['min']:.4g}, max {v['max']:.4g}, threshold {v['threshold']:g})"
        lines.append(f"• *{v['trigger']}*: {v['outcome']} - {v['reason']}{span}")
        if v.get("query"):
            lines.append(f"  `{v['query']}`")
    return "\n".join(lines)


def announce(data: Mapping[str, Any], key: str) -> Notice:
    service, action = data["service"], data["action"]
    off = action == "none" and not data.get("enabled", True)  # the global switch
    dry = action == "dry_run" or off
    verb = "Rollbacks switched off: would roll back" if off else "Dry run: would roll back"
    title = (
        f"{verb if dry else 'Rolling back'} {service} "
        f"from revision {data['revision']} to {data['previous']}"
    )
    if off:
        done = "Nothing was run (daemon.rollbacks.enabled is false)."
    elif dry:
        done = "Nothing was run (dry_run)."
    else:
        done = f"Running the {data['target']['kind']} rollback now; the result follows in thread."
    text = (
        f"*Seen:* {data['reason']} (trigger {data['trigger']}, by {data['requested_by']})\n"
        f"{_seen(data.get('verdicts', []))}\n*Done:* {done}"
    )
    return Notice(
        key=key,
        title=title,
        text=text,
        severity="warning" if dry else "critical",
        source="rollback",
        fields={"service": service, "revision": str(data["revision"]), "trigger": data["trigger"]},
        labels={"service": service},
    )


def result(data: Mapping[str, Any], key: str, thread_key: str) -> Notice:
    service, ok = data["service"], data["result"] == "success"
    lines = []
    for cmd in data.get("commands", []):
        tail = "\n".join(str(cmd["output"]).strip().splitlines()[-5:])
        lines.append(f"`{' '.join(cmd['argv'])}` -> exit {cmd['exit_code']}\n```{tail}```")
    after = data.get("revision_after")
    text = "\n".join(lines) + (f"\nNow at revision {after}." if after else "")
    return Notice(
        key=key,
        title=f"Rollback of {service} {'succeeded' if ok else 'FAILED'}",
        text=text,
        severity="resolved" if ok else "critical",
        source="rollback",
        labels={"service": service},
        thread_key=thread_key,
    )


def no_verdict_warning(service: str, count: int, reasons: Sequence[str], key: str) -> Notice:
    return Notice(
        key=key,
        title=f"Rollback triggers for {service} cannot decide",
        text=(
            f"The last {count} evaluations of {service} gave no verdict "
            f"({', '.join(sorted(set(reasons)))}). Auto-rollback cannot protect this "
            "service until the data is back; nothing was rolled back."
        ),
        severity="warning",
        source="rollback",
        labels={"service": service},
    )
