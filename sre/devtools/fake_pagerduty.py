"""A local PagerDuty Events API v2 server for tests (``POST /v2/enqueue``).

It does what PagerDuty's Events API v2 documentation says the real one does with an alert
event: checks the body (a 32-character ``routing_key`` this server knows, ``event_action``
trigger / acknowledge / resolve, ``payload.summary`` / ``source`` / ``severity`` on a
trigger, a ``dedup_key`` of at most 255 characters, required for acknowledge and resolve),
answers ``202 {"status": "success", "message": "Event processed", "dedup_key": ...}`` or
``400 {"status": "invalid event", "message": "Event object is invalid", "errors": [...]}``,
and keeps the alerts: a trigger opens one per ``dedup_key`` (again on an open one is
appended to it), a resolve closes it, a resolve of no open alert is dropped. Faults can be
injected (``fail_next``: answer 429 or 500 to the next events). Every event that arrived
is recorded (``events``). Runs in a background thread with its own event loop.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from sre.devtools.loopback import BackgroundServer, free_port

ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
KEY_LENGTH = 32


@dataclass
class Event:
    body: dict[str, Any]
    received_at: float
    status: int  # what the server answered

    @property
    def action(self) -> str:
        return str(self.body.get("event_action", ""))

    @property
    def dedup_key(self) -> str:
        return str(self.body.get("dedup_key", ""))


@dataclass
class PdAlert:
    dedup_key: str
    status: str  # triggered | acknowledged | resolved
    summary: str
    log: list[str] = field(default_factory=list)  # the actions applied, in order


class FakePagerDuty:
    def __init__(self, routing_keys: tuple[str, ...] = ("r" * KEY_LENGTH,)) -> None:
        self.routing_keys = set(routing_keys)
        self.port = free_port()
        self.events: list[Event] = []
        self.alerts: dict[str, list[PdAlert]] = {}  # dedup_key -> alerts, newest last
        self._faults: list[int] = []
        self._lock = threading.RLock()
        self._server: BackgroundServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v2/enqueue"

    # ------------------------------------------------------------------ control

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer the next ``count`` events with ``status`` (429 or a 5xx), keeping nothing."""
        with self._lock:
            self._faults.extend([status] * count)

    def accepted(self, action: str | None = None) -> list[Event]:
        with self._lock:
            return [e for e in self.events if e.status == 202 and action in (None, e.action)]

    def open_alerts(self) -> list[PdAlert]:
        with self._lock:
            return [a for alerts in self.alerts.values() for a in alerts if a.status != "resolved"]

    def wait_for(self, predicate: Any, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if predicate(self):
                    return
            time.sleep(0.02)
        raise TimeoutError(f"fake PagerDuty: condition not met within {timeout}s: {self.events}")

    # ------------------------------------------------------------------ server

    def start(self) -> FakePagerDuty:
        app = web.Application()
        app.router.add_post("/v2/enqueue", self._enqueue)
        self._server = BackgroundServer(app, self.port, "fake-pagerduty")
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def __enter__(self) -> FakePagerDuty:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ the API

    async def _enqueue(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        with self._lock:
            if self._faults:
                status = self._faults.pop(0)
                kept = body if isinstance(body, dict) else {}
                self.events.append(Event(kept, time.time(), status))
                return web.json_response({"status": "error", "message": "injected"}, status=status)
            if not isinstance(body, dict):
                self.events.append(Event({}, time.time(), 400))
                return _invalid(["Event object must be a JSON object"])
            errors = self._errors(body)
            event = Event(body, time.time(), 400 if errors else 202)
            self.events.append(event)
            if errors:
                return _invalid(errors)
            key = str(body.get("dedup_key") or uuid.uuid4().hex)
            self._apply(str(body["event_action"]), key, body)
        return web.json_response(
            {"status": "success", "message": "Event processed", "dedup_key": key}, status=202
        )

    def _errors(self, body: dict[str, Any]) -> list[str]:
        errors = []
        key = body.get("routing_key")
        if not isinstance(key, str) or len(key) != KEY_LENGTH:
            errors.append(
                f"Length of 'routing_key' is incorrect (should be {KEY_LENGTH} characters)"
            )
        elif key not in self.routing_keys:
            errors.append("Invalid routing key")
        action = body.get("event_action")
        if action not in ACTIONS:
            errors.append("'event_action' is invalid (one of: trigger, acknowledge, resolve)")
        dedup = body.get("dedup_key")
        if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
            errors.append("'dedup_key' must be a string of at most 255 characters")
        if action in ("acknowledge", "resolve") and not dedup:
            errors.append("'dedup_key' is required for acknowledge and resolve")
        if action == "trigger":
            payload = body.get("payload")
            if not isinstance(payload, dict):
                errors.append("'payload' is missing or not an object")
            else:
                for name in ("summary", "source"):
                    if not isinstance(payload.get(name), str) or not payload[name]:
                        errors.append(f"'payload.{name}' is missing or blank")
                summary = payload.get("summary")
                if isinstance(summary, str) and len(summary) > 1024:
                    errors.append("'payload.summary' is longer than 1024 characters")
                if payload.get("severity") not in SEVERITIES:
                    errors.append("'payload.severity' is invalid")
        return errors

    def _apply(self, action: str, key: str, body: dict[str, Any]) -> None:
        alerts = self.alerts.setdefault(key, [])
        current = alerts[-1] if alerts and alerts[-1].status != "resolved" else None
        if action == "trigger":
            if current is None:
                summary = str(body["payload"]["summary"])
                current = PdAlert(key, "triggered", summary)
                alerts.append(current)
            current.log.append("trigger")
        elif current is not None:  # acknowledge / resolve of no open alert: dropped
            current.status = "acknowledged" if action == "acknowledge" else "resolved"
            current.log.append(action)


def _invalid(errors: list[str]) -> web.Response:
    return web.json_response(
        {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
        status=400,
    )
