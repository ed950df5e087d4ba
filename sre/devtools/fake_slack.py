"""A local Slack Web API server for tests and benchmarks.

It implements the subset the daemon uses, the way Slack answers it: ``auth.test``,
``chat.postMessage``, ``chat.update``, ``chat.postEphemeral`` (Bearer token auth, JSON or
form bodies, ``{"ok": false, "error": ...}`` for ``invalid_auth`` / ``channel_not_found`` /
``message_not_found``, ``ts`` values per channel), plus ``POST /webhook/...`` in the
incoming-webhook format that Alertmanager's ``slack_configs`` sends. Failures can be
injected: answer HTTP 500, or 429 with ``Retry-After``, for the next N calls.

Every accepted call is recorded with the time it arrived, so tests can check content and
benchmarks can measure latency. Runs in a background thread with its own event loop.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from sre.devtools.loopback import free_port


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


class FakeSlack:
    def __init__(self, token: str = "xoxb-test-token", channels: tuple[str, ...] = ()) -> None:
        self.token = token
        # Empty means "every channel exists"; otherwise others get channel_not_found.
        self.channels = set(channels)
        self.port = free_port()
        self.calls: list[Call] = []
        self.messages: dict[tuple[str, str], Message] = {}
        self._fail: list[tuple[int, float | None]] = []  # (status, retry_after) per next call
        self._ts = itertools.count(1)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """What slack_sdk takes as ``base_url`` (it appends the method name)."""
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook/alertmanager"

    # ------------------------------------------------------------------ control

    def fail_next(self, count: int, status: int = 500, retry_after: float | None = None) -> None:
        with self._lock:
            self._fail.extend([(status, retry_after)] * count)

    def posts(self, method: str = "chat.postMessage") -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

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
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            app = web.Application()
            app.router.add_post("/api/{method}", self._api)
            app.router.add_post("/webhook/{name}", self._webhook)
            self._runner = web.AppRunner(app, access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", self.port)
            self._loop.run_until_complete(site.start())
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=serve, name="fake-slack", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake Slack did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ handlers

    def _injected_failure(self) -> web.Response | None:
        with self._lock:
            if not self._fail:
                return None
            status, retry_after = self._fail.pop(0)
        headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else {}
        error = "ratelimited" if status == 429 else "internal_error"
        return web.json_response({"ok": False, "error": error}, status=status, headers=headers)

    async def _body(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        if request.content_type == "application/json":
            data = json.loads(raw or b"{}")
            return data if isinstance(data, dict) else {}
        return dict(parse_qsl(raw.decode()))

    async def _webhook(self, request: web.Request) -> web.Response:
        failure = self._injected_failure()
        if failure is not None:
            return failure
        body = await self._body(request)
        with self._lock:
            self.calls.append(Call("webhook", body, time.time(), dict(request.headers)))
        return web.Response(text="ok")

    async def _api(self, request: web.Request) -> web.Response:
        failure = self._injected_failure()
        if failure is not None:
            return failure
        method = request.match_info["method"]
        body = await self._body(request)
        auth = request.headers.get("Authorization", "")
        if auth != f"Bearer {self.token}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        with self._lock:
            self.calls.append(Call(method, body, time.time(), dict(request.headers)))
            return web.json_response(self._answer(method, body))

    def _answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        if method in ("chat.postMessage", "chat.update") and _breaks_block_limits(body):
            return {"ok": False, "error": "invalid_blocks"}
        if method == "auth.test":
            return {"ok": True, "user_id": "UBOT", "team": "test", "bot_id": "BBOT"}
        channel = str(body.get("channel", ""))
        if method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            if not channel:
                return {"ok": False, "error": "channel_not_found"}
            if self.channels and channel not in self.channels:
                return {"ok": False, "error": "channel_not_found"}
        if method == "chat.postMessage":
            ts = f"{1_795_723_200 + next(self._ts)}.000100"
            parent = body.get("thread_ts")
            if parent:
                original = self.messages.get((channel, str(parent)))
                if original is None:
                    return {"ok": False, "error": "thread_not_found"}
                original.thread_replies.append(body)
            else:
                self.messages[(channel, ts)] = Message(channel, ts, body)
            return {"ok": True, "channel": channel, "ts": ts, "message": body}
        if method == "chat.update":
            message = self.messages.get((channel, str(body.get("ts", ""))))
            if message is None:
                return {"ok": False, "error": "message_not_found"}
            message.updates.append(body)
            return {"ok": True, "channel": channel, "ts": message.ts, "text": body.get("text")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"{time.time():.6f}"}
        return {"ok": False, "error": "unknown_method"}


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
