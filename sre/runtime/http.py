"""The daemon's one HTTP server: its core endpoints and what every route handler shares.

Core endpoints (DESIGN.md section 2): ``/metrics`` (Prometheus text format), ``/healthz``
(the process is alive), ``/readyz`` (config loaded, state store writable, scheduler running).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

# None when ready, else the reason it is not. Async: checking the store touches the disk.
ReadyCheck = Callable[[], Awaitable[str | None]]


def core_routes(registry: CollectorRegistry, ready: ReadyCheck) -> list[web.RouteDef]:
    async def metrics(_: web.Request) -> web.Response:
        # Rendered off the event loop: with 10,000 probe targets it takes tens of ms.
        body = await asyncio.get_running_loop().run_in_executor(None, generate_latest, registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        reason = await ready()
        if reason is None:
            return web.Response(text="ready\n")
        return web.Response(status=503, text=f"not ready: {reason}\n")

    return [
        web.get("/metrics", metrics),
        web.get("/healthz", healthz),
        web.get("/readyz", readyz),
    ]


def text(status: int, body: str, **headers: str) -> web.Response:
    """A one-line plain-text answer."""
    return web.Response(status=status, text=body + "\n", headers=headers or None)


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


class BearerToken:
    """``Authorization: Bearer <token>``, compared in constant time.

    ``token=None`` means no token is configured: ``open_without=True`` (``--insecure-dev``)
    lets every caller in, otherwise every caller is refused, with the variable to set.
    """

    def __init__(self, token: str | None, *, variable: str = "", open_without: bool = True) -> None:
        self._expected = f"Bearer {token}".encode() if token is not None else None
        self._variable = variable
        self._open = open_without

    @property
    def required(self) -> bool:
        return self._expected is not None

    def allows(self, request: web.Request) -> bool:
        if self._expected is None:
            return self._open
        given = request.headers.get("Authorization", "").encode("utf-8", "replace")
        return hmac.compare_digest(given, self._expected)

    def refused(self) -> web.Response:
        if self._expected is None:
            variable = self._variable or "its variable"
            why = f"this endpoint needs a bearer token, and {variable} is unset"
        else:
            why = "missing or wrong bearer token"
        return text(401, why, **{"WWW-Authenticate": "Bearer"})


class BadRequests(logging.Filter):
    """aiohttp logs a request it cannot parse (a bad header, a line too long) as an ERROR
    with a traceback. It is the client's fault and aiohttp already answered 400: make it
    one WARNING line, and count it (``sre_http_bad_requests_total``)."""

    def __init__(self, counter: Counter) -> None:
        super().__init__()
        self.counter = counter

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            self.counter.inc()
            reason = " ".join(str(error.message).split())[:200]
            record.msg, record.args = "bad HTTP request answered 400: %s", (reason,)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True

    def install(self) -> None:
        logging.getLogger("aiohttp.server").addFilter(self)

    def remove(self) -> None:
        logging.getLogger("aiohttp.server").removeFilter(self)
