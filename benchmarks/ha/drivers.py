"""Which PostgreSQL driver for the state store: psycopg 3 or asyncpg, measured on the
daemon's hottest write, a webhook's transaction (claim the alert's dedup key, take the
outbox-order lock, insert the outbox row, commit), on Debian's server on loopback.

* psycopg 3 as the daemon runs it: ``AlertState.receive`` on the store (a pool, the
  transaction on a worker thread behind ``store.run``), awaited from the event loop;
* asyncpg: the same statements in ``async with conn.transaction()`` on its own pool,
  natively async.

One at a time (latency) and 32 at a time (throughput), fresh keys each.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sre.features.alerts.model import Notification, parse_notification
from sre.features.alerts.state import AlertState
from sre.runtime.store.postgres import OUTBOX_LOCK, open_postgres
from tests.helpers.alertmanager import alert_json, webhook

COUNT = 3000
CONCURRENCY = 32


def note(i: int) -> Notification:
    body = webhook([alert_json(f"Bench{i:06d}", fingerprint=f"fp{i}")], group_key=f"g{i}")
    return parse_notification(json.dumps(body).encode())


async def _measure(
    one: Callable[[int], Awaitable[Any]], first: int, concurrency: int
) -> tuple[float, float, float]:
    """(per second, p50 ms, p99 ms) over COUNT transactions."""
    latencies: list[float] = []
    queue = iter(range(first, first + COUNT))

    async def worker() -> None:
        for i in queue:
            began = time.perf_counter()
            await one(i)
            latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - began
    latencies.sort()
    return (
        COUNT / wall,
        statistics.median(latencies) * 1000,
        latencies[int(0.99 * len(latencies))] * 1000,
    )


async def psycopg_figures(url: str) -> dict[str, tuple[float, float, float]]:
    store = open_postgres(url)
    state = AlertState(store)
    notes = {i: note(i) for i in range(4 * COUNT)}
    try:

        async def one(i: int) -> Any:
            return await state.receive(notes[i], time.time())

        await _measure(one, 3 * COUNT, 8)  # warm-up: prepared statements, pool
        return {
            "serial": await _measure(one, 0, 1),
            "concurrent": await _measure(one, COUNT, CONCURRENCY),
        }
    finally:
        store.close()


async def asyncpg_figures(url: str) -> dict[str, tuple[float, float, float]]:
    import asyncpg  # a dev dependency: measured here, not used by the daemon

    pool = await asyncpg.create_pool(url, min_size=6, max_size=6)
    claim = (
        "INSERT INTO idempotency (scope, key, created_at) VALUES ($1, $2, $3) "
        "ON CONFLICT DO NOTHING"
    )
    add = (
        "INSERT INTO outbox (topic, key, payload, next_attempt_at, created_at) "
        "VALUES ($1, NULL, $2, $3, $3) ON CONFLICT DO NOTHING RETURNING id"
    )
    payloads = {i: note(i).to_dict() for i in range(4 * COUNT)}

    async def one(i: int) -> Any:
        key = hashlib.sha256(f"asyncpg-{i}".encode()).hexdigest()
        async with pool.acquire() as conn, conn.transaction():
            now = time.time()
            status = await conn.execute(claim, "alerts", key, now)
            if status.endswith(" 1"):
                await conn.execute("SELECT pg_advisory_xact_lock_shared($1)", OUTBOX_LOCK)
                return await conn.fetchval(add, "alerts", json.dumps(payloads[i]), now)
            return None

    try:
        await _measure(one, 3 * COUNT, 8)
        return {
            "serial": await _measure(one, 0, 1),
            "concurrent": await _measure(one, COUNT, CONCURRENCY),
        }
    finally:
        await pool.close()


def report(tmp: Path, url: str) -> list[str]:
    """Lines comparing the two drivers on the database ``url`` (migrated by the store)."""
    mine = asyncio.run(psycopg_figures(url))
    try:
        theirs = asyncio.run(asyncpg_figures(url))
    except ImportError:
        return ["asyncpg not installed (pip install asyncpg): driver comparison skipped"]
    lines = []
    for mode in ("serial", "concurrent"):
        (a_rate, a50, a99), (b_rate, b50, b99) = mine[mode], theirs[mode]
        at = "1 at a time" if mode == "serial" else f"{CONCURRENCY} at a time"
        lines.append(
            f"   {at}: psycopg 3 {a_rate:,.0f}/s (p50 {a50:.2f} ms, p99 {a99:.2f} ms), "
            f"asyncpg {b_rate:,.0f}/s (p50 {b50:.2f} ms, p99 {b99:.2f} ms)"
        )
    return lines
