"""``POST /alertmanager``: authenticate, bound, parse, store, answer 200 - in that order.

Nothing a client sends becomes a 5xx: a bad token is 401, a body over
``daemon.max_webhook_bytes`` is 413, anything that is not a version 4 webhook is 400 with
a one-line reason. Only a real internal failure (the store cannot be written) is 503, so
Alertmanager retries. Delivery happens later, from the outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

from sre.features.alerts.metrics import AlertMetrics
from sre.features.alerts.model import PayloadError, parse_notification
from sre.features.alerts.state import AlertState
from sre.runtime.http import BearerToken, read_limited, text
from sre.runtime.store import StoreError, StoreUnavailable

log = logging.getLogger(__name__)


class Receiver:
    def __init__(
        self,
        state: AlertState,
        metrics: AlertMetrics,
        *,
        token: BearerToken,
        max_bytes: int,
        clock: Callable[[], float],
        on_queued: Callable[[], None],
    ) -> None:
        self.state = state
        self.metrics = metrics
        self.token = token
        self.max_bytes = max_bytes
        self.clock = clock
        self.on_queued = on_queued

    async def handle(self, request: web.Request) -> web.Response:
        if not self.token.allows(request):
            return self.token.refused()
        body = await read_limited(request, self.max_bytes)
        if body is None:
            return text(413, f"body larger than {self.max_bytes} bytes")
        try:
            body.decode("utf-8")
            note = parse_notification(body)
        except UnicodeDecodeError:
            return text(400, "body is not UTF-8 text")
        except PayloadError as err:
            return text(400, str(err))
        received_at = self.clock()
        for alert in note.alerts:
            self.metrics.received.labels(status=alert.status).inc()
        try:
            queued = await self.state.receive(note, received_at)
        except (StoreUnavailable, StoreError) as err:
            self.metrics.store_errors.inc()
            log.error("cannot store an Alertmanager notification: %s", err)
            return text(503, "state store unavailable, retry later")
        if queued is None:
            self.metrics.duplicates.inc()
            return text(200, "duplicate")
        self.on_queued()
        return text(200, "queued")
