"""A local Slack Web API server for tests, benchmarks and ``make demo``.

It implements the subset the daemon uses, the way Slack documents it:

* ``auth.test``, ``chat.postMessage`` (top level or in a thread, with ``metadata``),
  ``chat.update``, ``chat.postEphemeral``, ``conversations.history`` and
  ``conversations.replies`` (newest first / parent first, ``oldest``, ``limit``, ``cursor``,
  ``include_all_metadata``); Bearer token auth; JSON or form bodies; ``{"ok": false,
  "error": ...}`` for ``invalid_auth``, ``channel_not_found``, ``message_not_found``,
  ``thread_not_found``, ``invalid_blocks`` (Block Kit limits);
* rate limits (Slack's "Rate limits" page): ``chat.postMessage`` about one message per
  second per channel with short bursts, other methods per method per workspace (Tier 3:
  50+ per minute). Over a limit: HTTP 429 with ``Retry-After`` and ``ratelimited``;
* ``POST /webhook/...`` in the incoming-webhook format Alertmanager's ``slack_configs`` sends.

Faults can be injected for the next calls: answer HTTP 500 or 429, or store the message
and then answer only after a delay (past the client's time-out) or drop the connection
without answering, as a real network does. Every call that reached the API is recorded
with the time it arrived (``calls``); 429 answers are counted (``throttled``). Runs in a
background thread with its own event loop.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from sre.devtools.loopback import BackgroundServer, free_port

TIER3_PER_MINUTE = 50.0


@dataclass
class Call:
    method: str  # chat.postMessage | chat.update | webhook | ...
    body: dict[str, Any]
    received_at: float
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Message:
    channel: str
    ts: str
    body: dict[str, Any]
    updates: list[dict[str, Any]] = field(default_factory=list)
    thread_replies: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    metadata: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        current = self.updates[-1] if self.updates else self.body
        return str(current.get("text", ""))

    def view(self, with_metadata: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "message", "bot_id": "BBOT", "ts": self.ts}
        out["text"] = self.text
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if with_metadata and self.metadata:
            out["metadata"] = self.metadata
        return out


@dataclass
class Bucket:
    """A token bucket: ``rate`` tokens a second, at most ``burst`` saved up."""

    rate: float
    burst: float
    tokens: float = -1.0
    at: float = 0.0

    def take(self, now: float) -> float:
        """0 when a token was taken, else the seconds until one is there."""
        if self.tokens < 0:
            self.tokens, self.at = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass
class Fault:
    method: str | None  # None: any method
    kind: str  # status | delay | drop
    status: int = 500
    retry_after: float | None = None
    delay: float = 0.0


class FakeSlack:
    def __init__(
        self,
        token: str = "xoxb-test-token",
        channels: tuple[str, ...] = (),
        *,
        post_per_second: float | None = 1.0,
        post_burst: float = 3.0,
        tier3_per_minute: float | None = TIER3_PER_MINUTE,
    ) -> None:
        self.token = token
        # Empty means "every channel exists"; otherwise others get channel_not_found.
        self.channels = set(channels)
        self.port = free_port()
        self.calls: list[Call] = []
        self.messages: dict[tuple[str, str], Message] = {}  # top level
        self.replies: dict[tuple[str, str], Message] = {}  # in threads
        self.throttled: list[Call] = []  # calls answered 429 by the rate limits
        self.post_per_second = post_per_second
        self.post_burst = post_burst
        self.tier3_per_minute = tier3_per_minute
        self._buckets: dict[str, Bucket] = {}
        self._faults: list[Fault] = []
        self._last_us = 0
        self._lock = threading.RLock()  # wait_for holds it while a predicate reads
        self._server: BackgroundServer | None = None

    @property
    def base_url(self) -> str:
        """What slack_sdk takes as ``base_url`` (it appends the method name)."""
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook/alertmanager"

    # ------------------------------------------------------------------ control

    def fail_next(
        self,
        count: int,
        status: int = 500,
        retry_after: float | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next ``count`` calls (of ``method``) with ``status``, storing nothing."""
        with self._lock:
            self._faults.extend([Fault(method, "status", status, retry_after)] * count)

    def delay_next(self, count: int, seconds: float, method: str = "chat.postMessage") -> None:
        """Store the next ``count`` calls' messages, then answer only after ``seconds``."""
        with self._lock:
            self._faults.extend([Fault(method, "delay", delay=seconds)] * count)

    def drop_next(self, count: int, method: str = "chat.postMessage") -> None:
        """Store the next ``count`` calls' messages, then close the connection unanswered."""
        with self._lock:
            self._faults.extend([Fault(method, "drop")] * count)

    def posts(self, method: str = "chat.postMessage") -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def top_level(self, channel: str | None = None) -> list[Message]:
        """Top-level messages (not thread replies), oldest first."""
        with self._lock:
            found = list(self.messages.values())
        return [m for m in found if channel in (None, m.channel)]

    def wait_for(self, predicate: Any, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if predicate(self):
                    return
            time.sleep(0.02)
        raise TimeoutError(f"fake Slack: condition not met within {timeout}s; calls: {self.calls}")

    # ------------------------------------------------------------------ server

    def start(self) -> FakeSlack:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_post("/webhook/{name}", self._webhook)
        self._server = BackgroundServer(app, self.port, "fake-slack")
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ handlers

    def _fault(self, method: str) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.method in (None, method):
                    return self._faults.pop(i)
        return None

    def _limited(self, method: str, channel: str, now: float) -> float:
        """Seconds to wait when this call is over a rate limit, else 0 (a token taken)."""
        if method == "chat.postMessage":
            if self.post_per_second is None:
                return 0.0
            key, rate, burst = f"post:{channel}", self.post_per_second, self.post_burst
        elif method in ("chat.update", "conversations.history", "conversations.replies"):
            if self.tier3_per_minute is None:
                return 0.0
            key, rate, burst = method, self.tier3_per_minute / 60, self.tier3_per_minute / 6
        else:
            return 0.0
        bucket = self._buckets.setdefault(key, Bucket(rate, burst))
        return bucket.take(now)

    async def _body(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        if request.content_type == "application/json":
            data = json.loads(raw or b"{}")
            return data if isinstance(data, dict) else {}
        return dict(parse_qsl(raw.decode()))

    async def _webhook(self, request: web.Request) -> web.Response:
        fault = self._fault("webhook")
        if fault is not None and fault.kind == "status":
            return _error(fault.status, fault.retry_after)
        body = await self._body(request)
        with self._lock:
            self.calls.append(Call("webhook", body, time.time(), dict(request.headers)))
        return web.Response(text="ok")

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        fault = self._fault(method)
        if fault is not None and fault.kind == "status":
            return _error(fault.status, fault.retry_after)
        body = await self._body(request)
        auth = request.headers.get("Authorization", "")
        if auth != f"Bearer {self.token}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        call = Call(method, body, time.time(), dict(request.headers))
        with self._lock:
            wait = self._limited(method, str(body.get("channel", "")), time.monotonic())
            if wait > 0:
                self.throttled.append(call)
                return _error(429, max(1.0, wait))
            self.calls.append(call)
            answer = self._answer(method, body)
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.delay)
        if fault is not None and fault.kind == "drop":
            if request.transport is not None:
                request.transport.close()  # stored, never answered: the client sees a reset
            return web.Response(status=500)
        return web.json_response(answer)

    def _answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        if method in ("chat.postMessage", "chat.update") and _breaks_block_limits(body):
            return {"ok": False, "error": "invalid_blocks"}
        if method == "auth.test":
            return {"ok": True, "user_id": "UBOT", "team": "test", "bot_id": "BBOT"}
        channel = str(body.get("channel", ""))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if self.channels and channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        if method == "chat.postMessage":
            return self._post(channel, body)
        if method == "chat.update":
            message = self.messages.get((channel, str(body.get("ts", ""))))
            if message is None:
                return {"ok": False, "error": "message_not_found"}
            message.updates.append(body)
            return {"ok": True, "channel": channel, "ts": message.ts, "text": body.get("text")}
        if method == "chat.postEphemeral":
            if not body.get("user"):
                return {"ok": False, "error": "invalid_arguments"}
            return {"ok": True, "message_ts": f"{time.time():.6f}"}
        if method in ("conversations.history", "conversations.replies"):
            return self._read(method, channel, body)
        return {"ok": False, "error": "unknown_method"}

    def _post(self, channel: str, body: dict[str, Any]) -> dict[str, Any]:
        # As Slack's: the posting time, microseconds after the dot, unique per channel.
        self._last_us = max(int(time.time() * 1_000_000), self._last_us + 1)
        ts = f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"
        parent = str(body["thread_ts"]) if body.get("thread_ts") else None
        if parent is not None:
            original = self.messages.get((channel, parent))
            if original is None:
                return {"ok": False, "error": "thread_not_found"}
            original.thread_replies.append(body)
        metadata = body.get("metadata")
        if isinstance(metadata, str):  # form bodies carry it as JSON text
            metadata = json.loads(metadata)
        message = Message(channel, ts, body, thread_ts=parent, metadata=metadata)
        (self.replies if parent else self.messages)[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": body}

    def _read(self, method: str, channel: str, body: dict[str, Any]) -> dict[str, Any]:
        with_metadata = str(body.get("include_all_metadata", "")).lower() in ("true", "1")
        limit = max(1, min(1000, int(body.get("limit") or 100)))
        start = int(body.get("cursor") or 0)
        oldest = float(body.get("oldest") or 0)
        if method == "conversations.history":
            found = [
                m for m in self.messages.values() if m.channel == channel and float(m.ts) >= oldest
            ]
            found.sort(key=lambda m: float(m.ts), reverse=True)  # newest first
        else:
            parent = self.messages.get((channel, str(body.get("ts", ""))))
            if parent is None:
                return {"ok": False, "error": "thread_not_found"}
            replies = [m for m in self.replies.values() if m.thread_ts == parent.ts]
            found = [parent, *sorted(replies, key=lambda m: float(m.ts))]
        page = found[start : start + limit]
        more = start + limit < len(found)
        return {
            "ok": True,
            "messages": [m.view(with_metadata) for m in page],
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }


def _error(status: int, retry_after: float | None) -> web.Response:
    headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else {}
    error = "ratelimited" if status == 429 else "internal_error"
    return web.json_response({"ok": False, "error": error}, status=status, headers=headers)


# Slack's documented Block Kit limits: section text 3000, field / context text 2000,
# button value 2000 characters, at most 50 blocks.
def _breaks_block_limits(body: dict[str, Any]) -> bool:
    blocks = list(body.get("blocks") or [])
    for attachment in body.get("attachments") or []:
        if isinstance(attachment, dict):
            blocks += attachment.get("blocks") or []
    if len(blocks) > 50:
        return True
    for block in blocks:
        if not isinstance(block, dict):
            return True
        text = (block.get("text") or {}).get("text", "")
        if block.get("type") == "section" and len(text) > 3000:
            return True
        for block_field in block.get("fields") or []:
            if len(block_field.get("text", "")) > 2000:
                return True
        for element in block.get("elements") or []:
            if len(element.get("text", "") if isinstance(element.get("text"), str) else "") > 2000:
                return True
            if len(str(element.get("value", ""))) > 2000:
                return True
    return False
