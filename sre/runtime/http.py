"""The daemon's one HTTP server: its core endpoints and what every route handler shares.

Core endpoints (DESIGN.md section 2): ``/metrics`` (Prometheus text format), ``/healthz``
(the process is alive), ``/readyz`` (config loaded, state store writable, scheduler running).
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

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
    """``Authorization: Bearer <token>``, compared in constant time. ``None``: no check
    (``--insecure-dev``)."""

    def __init__(self, token: str | None) -> None:
        self._expected = f"Bearer {token}".encode() if token is not None else None

    @property
    def required(self) -> bool:
        return self._expected is not None

    def allows(self, request: web.Request) -> bool:
        if self._expected is None:
            return True
        given = request.headers.get("Authorization", "").encode("utf-8", "replace")
        return hmac.compare_digest(given, self._expected)

    def refused(self) -> web.Response:
        return text(401, "missing or wrong bearer token", **{"WWW-Authenticate": "Bearer"})
