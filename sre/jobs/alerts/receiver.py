"""``POST /alertmanager``: authenticate, bound, parse, store, answer 200 - in that order.

Nothing a client sends becomes a 5xx: a bad token is 401, a body over
``daemon.max_webhook_bytes`` is 413, anything that is not a version 4 webhook is 400 with
a one-line reason. Only a real internal failure (the store cannot be written) is 503, so
Alertmanager retries. Delivery happens later, from the outbox.
"""

from __future__ import annotations

import hmac
import logging
import sqlite3
from collections.abc import Callable

from aiohttp import web

from sre.daemon.store import StoreError
from sre.jobs.alerts.metrics import AlertMetrics
from sre.jobs.alerts.state import AlertState
from sre.notify.payload import PayloadError, parse_notification

log = logging.getLogger(__name__)


async def read_limited(request: web.Request, limit: int) -> bytes | None:
    """The body, or None when it is larger than ``limit`` (read no further than that)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _text(status: int, text: str, **headers: str) -> web.Response:
    return web.Response(status=status, text=text + "\n", headers=headers or None)


class Receiver:
    def __init__(
        self,
        state: AlertState,
        metrics: AlertMetrics,
        *,
        token: str | None,  # None: --insecure-dev, no authentication
        max_bytes: int,
        clock: Callable[[], float],
        on_queued: Callable[[], None],
    ) -> None:
        self.state = state
        self.metrics = metrics
        self._expected = f"Bearer {token}".encode() if token is not None else None
        self.max_bytes = max_bytes
        self.clock = clock
        self.on_queued = on_queued

    def _authorized(self, request: web.Request) -> bool:
        if self._expected is None:
            return True
        given = request.headers.get("Authorization", "").encode("utf-8", "replace")
        return hmac.compare_digest(given, self._expected)

    async def handle(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _text(401, "missing or wrong bearer token", **{"WWW-Authenticate": "Bearer"})
        body = await read_limited(request, self.max_bytes)
        if body is None:
            return _text(413, f"body larger than {self.max_bytes} bytes")
        try:
            text = body.decode("utf-8")
            note = parse_notification(body)
        except UnicodeDecodeError:
            return _text(400, "body is not UTF-8 text")
        except PayloadError as err:
            return _text(400, str(err))
        received_at = self.clock()
        for alert in note.alerts:
            self.metrics.received.labels(status=alert.status).inc()
        try:
            queued = self.state.receive(note, text, received_at)
        except (sqlite3.Error, StoreError, OSError) as err:
            log.error("cannot store an Alertmanager notification: %s", err)
            return _text(503, "state store unavailable, retry later")
        if queued is None:
            self.metrics.duplicates.inc()
            return _text(200, "duplicate")
        self.on_queued()
        return _text(200, "queued")
