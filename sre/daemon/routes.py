"""The core HTTP endpoints: ``/metrics``, ``/healthz``, ``/readyz`` (DESIGN.md section 2)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

ReadyCheck = Callable[[], str | None]  # None when ready, else the reason it is not


def core_routes(registry: CollectorRegistry, ready: ReadyCheck) -> list[web.RouteDef]:
    async def metrics(_: web.Request) -> web.Response:
        # Rendered off the event loop: with 10,000 probe targets it takes tens of ms.
        body = await asyncio.get_running_loop().run_in_executor(None, generate_latest, registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        reason = ready()
        if reason is None:
            return web.Response(text="ready\n")
        return web.Response(status=503, text=f"not ready: {reason}\n")

    return [
        web.get("/metrics", metrics),
        web.get("/healthz", healthz),
        web.get("/readyz", readyz),
    ]
