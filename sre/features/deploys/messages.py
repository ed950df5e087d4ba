"""A deploy thread's parent message, rendered from its row (pure). Every update renders
the whole message again, so an update delivered twice or late shows the same thing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sre.features.deploys.model import Thread

TEXT_LIMIT = 2900  # Block Kit section text is capped at 3000 characters

STYLE = {  # status -> (colour, emoji, what happened)
    "rolling_out": ("#439FE0", ":rocket:", "rolling out"),
    "rolling_back": ("#E01E5A", ":rewind:", "rolling back"),
    "verified": ("#2EB67D", ":white_check_mark:", "verified"),
    "rolled_back": ("#E01E5A", ":leftwards_arrow_with_hook:", "rolled back"),
    "rollback_failed": ("#E01E5A", ":x:", "rollback FAILED"),
    "failing": ("#ECB22E", ":warning:", "failing, not rolled back"),
    "no_verdict": ("#9E9EA6", ":grey_question:", "no verdict"),
    "superseded": ("#9E9EA6", ":fast_forward:", "superseded"),
}


def _time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def title(thread: Thread) -> str:
    _, emoji, what = STYLE.get(thread.status, STYLE["rolling_out"])
    return f"{emoji} {thread.service} revision {thread.revision}: {what}"


def parent(thread: Thread) -> dict[str, Any]:
    colour, _, _ = STYLE.get(thread.status, STYLE["rolling_out"])
    head = title(thread)
    fields = [
        ("Service", thread.service),
        ("Revision", f"{thread.revision} (previous {thread.previous or 'none'})"),
        ("Deployed", _time(thread.deployed_at)),
        ("Watched until", _time(thread.watch_until)),
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{head}*"}},
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields],
        },
    ]
    if thread.detail:
        detail = thread.detail[:TEXT_LIMIT]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": detail}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "sre · deploy"}]})
    return {"text": head, "attachments": [{"color": colour, "blocks": blocks}]}


def reply(text: str) -> dict[str, Any]:
    return {"text": text[:TEXT_LIMIT]}
