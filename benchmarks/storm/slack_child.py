"""The local Slack server, with Slack's rate limits, in a child process (its own GIL),
reporting every message it stored and how many calls it answered 429."""

from __future__ import annotations

import json
import multiprocessing
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from sre.devtools.fake_slack import FakeSlack


@dataclass(frozen=True)
class Seen:
    """One call the server accepted: what it showed, where and when."""

    method: str  # chat.postMessage | chat.update
    channel: str
    ts: str  # the message's own ts (for an update: the message updated)
    thread_ts: str | None
    text: str  # the whole body as JSON text: names in blocks count too
    at: float
    post_id: str | None


def _post_id(body: dict[str, Any]) -> str | None:
    meta = body.get("metadata")
    payload = meta.get("event_payload") if isinstance(meta, dict) else None
    return str(payload.get("post_id")) if isinstance(payload, dict) else None


def _dump(slack: FakeSlack) -> dict[str, Any]:
    seen: list[Seen] = []
    messages = {**slack.messages, **slack.replies}
    by_body = {id(m.body): m for m in messages.values()}
    for call in list(slack.calls):
        if call.method == "chat.postMessage":
            stored = by_body.get(id(call.body))
            if stored is None:
                continue  # refused (bad channel...): nothing was shown
            seen.append(
                Seen(call.method, stored.channel, stored.ts, stored.thread_ts,
                     json.dumps(call.body), call.received_at, _post_id(call.body))
            )  # fmt: skip
        elif call.method == "chat.update":
            seen.append(
                Seen(call.method, str(call.body.get("channel")), str(call.body.get("ts")), None,
                     json.dumps(call.body), call.received_at, None)
            )  # fmt: skip
    return {"seen": seen, "throttled": len(slack.throttled), "calls": len(slack.calls)}


def _child(conn: Connection) -> None:
    with FakeSlack() as slack:  # Slack's limits: about 1 post/s per channel
        conn.send((slack.base_url, slack.token))
        while conn.recv() == "dump":
            conn.send(_dump(slack))


class StormSlack:
    def __enter__(self) -> StormSlack:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_child, args=(child,), daemon=True)
        self.proc.start()
        if not self.conn.poll(30):
            raise RuntimeError("the Slack server child did not start")
        self.base_url, self.token = self.conn.recv()
        return self

    def dump(self) -> dict[str, Any]:
        self.conn.send("dump")
        result: dict[str, Any] = self.conn.recv()
        return result

    def __exit__(self, *exc: object) -> None:
        self.conn.send("stop")
        self.proc.join(10)
