"""Child process: the cost of one fresh-connection probe, client alone (no engine).

``python -m benchmarks.probes.clients PORT COUNT`` prints one JSON line with probes per
CPU-second for the daemon's probe client (``sre.clients.probe.Prober``) and for aiohttp
requests with a shared ``TCPConnector(force_close=True)`` (aiohttp's cheapest
fresh-connection setup measured here; a connector per probe costs the same or more).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable

import aiohttp

from benchmarks.probes.helpers import cpu_seconds
from sre.clients.probe import Prober, prepare
from sre.config import Probe


async def measure(count: int, one: Callable[[int], Awaitable[None]], conc: int = 64) -> float:
    sem = asyncio.Semaphore(conc)

    async def bounded(i: int) -> None:
        async with sem:
            await one(i)

    await asyncio.gather(*(bounded(i) for i in range(200)))  # warm-up
    cpu0 = cpu_seconds(os.getpid())
    await asyncio.gather(*(bounded(i) for i in range(count)))
    return count / (cpu_seconds(os.getpid()) - cpu0)


async def main(port: int, count: int) -> dict[str, float]:
    prober = Prober()
    requests = [prepare(Probe(url=f"http://127.0.0.1:{port}/c/{i}")) for i in range(count)]

    async def ours(i: int) -> None:
        seen = await prober.probe(requests[i])
        assert seen.status == 200, seen

    connector = aiohttp.TCPConnector(force_close=True, limit=0, use_dns_cache=False)
    async with aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:
        timeout = aiohttp.ClientTimeout(total=2)

        async def theirs(i: int) -> None:
            async with session.get(f"http://127.0.0.1:{port}/c/{i}", timeout=timeout) as resp:
                await resp.read()
                assert resp.status == 200

        return {"prober": await measure(count, ours), "aiohttp": await measure(count, theirs)}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))), flush=True)
