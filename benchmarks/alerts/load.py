"""Open-loop webhook load: one step of bodies at a fixed rate, whatever the answers take
(a late answer never slows the schedule). Used by benchmarks/alerts and benchmarks/ha."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp

from tests.helpers.alertmanager import alert_json, webhook


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def new_groups(prefix: str, first: int, count: int) -> list[bytes]:
    """Version 4 webhooks, one new alert group each."""
    return [
        json.dumps(
            webhook([alert_json(f"{prefix}{i:07d}", fingerprint=f"fp{i}")], group_key=f"g{i}")
        ).encode()
        for i in range(first, first + count)
    ]


async def open_loop(
    urls: list[str], bodies: list[bytes], rate: float, token: str, *, connections: int = 512
) -> dict[str, float]:
    """POST ``bodies`` at ``rate`` per second, round-robin over ``urls``; the achieved rate
    (answers 200 per second), p50/p99 response time in ms and the other answers."""
    latencies: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(url: str, body: bytes) -> None:
            nonlocal errors
            began = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    ok = resp.status == 200
            except aiohttp.ClientError:
                ok = False
            if ok:
                latencies.append(time.perf_counter() - began)
            else:
                errors += 1

        tasks = []
        began = time.perf_counter()
        for i, body in enumerate(bodies):
            delay = began + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(urls[i % len(urls)], body)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - began
    return {
        "rate": rate,
        "achieved": len(latencies) / elapsed,
        "p50_ms": pct(latencies, 0.5) * 1000,
        "p99_ms": pct(latencies, 0.99) * 1000,
        "errors": errors,
    }
