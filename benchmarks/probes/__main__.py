"""Probe engine benchmark: ``python -m benchmarks.probes`` (figures only, never asserts).

Target: Debian's nginx on a loopback port, its own prefix, every path answering 200 "ok".
1. probes per CPU-second of the daemon's probe engine (fresh connection per probe): the
   real daemon in a child process, 2,000 distinct URLs at a 1 s interval;
2. the same for Debian's prometheus-blackbox-exporter, driven through
   ``/probe?module=http_2xx`` by a concurrent client in this process (exporter CPU only);
   also, for the record, the probe client alone against aiohttp (why the engine has its
   own minimal HTTP/1.1 client);
3. the ratio 1 / 2;
4. 10,000 targets (distinct URLs on the same nginx) at a 15 s interval for 2.5 rounds:
   p99 lateness of probe starts against their slots, and the daemon's peak RSS.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from benchmarks.probes.helpers import (
    cpu_seconds,
    find,
    free_port,
    start_blackbox,
    start_nginx,
    stop,
)

TARGETS = {"ratio": 1.5, "p99_lateness_s": 1.0, "peak_rss_mb": 150.0}


def write_config(path: Path, port: int, count: int, interval: str, state: Path) -> None:
    lines = [
        "system: bench",
        "prometheus: {url: 'http://127.0.0.1:9'}",
        "runbooks: {base_url: 'http://127.0.0.1/'}",
        "services:",
        "  - {name: bench, namespace: bench}",
        f"daemon: {{listen: '127.0.0.1:{free_port()}', state: 'sqlite:///{state}',"
        " probe_concurrency: 256, webhook_token_env: null}",
        "probes:",
    ]
    lines += [
        f"  - {{name: t{i}, service: bench, url: 'http://127.0.0.1:{port}/t/{i}',"
        f" interval: {interval}, timeout: 1s}}"
        for i in range(count)
    ]
    path.write_text("\n".join(lines) + "\n")


def run_engine(config: Path, warmup: float, window: float) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.probes.engine", str(config), str(warmup), str(window)],
        check=False,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"engine run failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


async def drive_blackbox(bport: int, port: int, count: int, concurrency: int = 32) -> int:
    """Probe ``count`` URLs through the exporter; returns how many reported success."""
    ok = 0
    queue = iter(range(count))
    url = f"http://127.0.0.1:{bport}/probe"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:

        async def worker() -> None:
            nonlocal ok
            for i in queue:
                params = {"target": f"http://127.0.0.1:{port}/t/{i}", "module": "http_2xx"}
                async with s.get(url, params=params) as resp:
                    ok += "probe_success 1" in await resp.text()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok


def main() -> int:
    missing = [b for b in ("nginx", "prometheus-blackbox-exporter") if not find(b)]
    if missing:
        print(f"not installed: {', '.join(missing)} (make bench installs them)")
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-probes-") as tmp:
        work = Path(tmp)
        nginx, port = start_nginx(work)
        try:
            print("target: Debian nginx on 127.0.0.1, every path -> 200 'ok'", flush=True)
            config = work / "rate.yaml"
            write_config(config, port, 2000, "1s", work / "rate.db")
            engine = run_engine(config, warmup=3, window=10)
            ours = engine["probes"] / engine["cpu_seconds"]
            print(
                f"1. sre probe engine: {ours:,.0f} probes per CPU-second "
                f"({engine['probes']:.0f} probes, {engine['cpu_seconds']:.2f} CPU s, "
                f"fresh connection each)",
                flush=True,
            )

            clients = subprocess.run(
                [sys.executable, "-m", "benchmarks.probes.clients", str(port), "8000"],
                check=True,
                capture_output=True,
                text=True,
            )
            bare = json.loads(clients.stdout.strip().splitlines()[-1])
            print(
                f"   (client alone, no engine: sre probe client {bare['prober']:,.0f}, aiohttp "
                f"force_close {bare['aiohttp']:,.0f} fresh-connection probes per CPU-second)",
                flush=True,
            )

            blackbox, bport = start_blackbox(work)
            try:
                asyncio.run(drive_blackbox(bport, port, 500))  # warm-up
                cpu0, t0 = cpu_seconds(blackbox.pid), time.monotonic()
                count = 15000
                ok = asyncio.run(drive_blackbox(bport, port, count))
                cpu = cpu_seconds(blackbox.pid) - cpu0
                wall = time.monotonic() - t0
            finally:
                stop(blackbox)
            theirs = count / cpu
            print(
                f"2. blackbox_exporter: {theirs:,.0f} probes per CPU-second "
                f"({count} probes, {ok} ok, {cpu:.2f} CPU s, {count / wall:,.0f}/s wall)",
                flush=True,
            )
            ratio = ours / theirs
            print(f"3. ratio sre / blackbox: {ratio:.2f} (target >= {TARGETS['ratio']})")

            config = work / "scale.yaml"
            write_config(config, port, 10_000, "15s", work / "scale.db")
            scale = run_engine(config, warmup=0, window=37.5)
            print(
                f"4. 10,000 targets @ 15s ({scale['starts']:.0f} probe starts in 37.5 s): "
                f"lateness p50 {scale['lateness_p50'] * 1000:.1f} ms, "
                f"p99 {scale['lateness_p99'] * 1000:.1f} ms "
                f"(target < {TARGETS['p99_lateness_s']:.0f} s), "
                f"max {scale['lateness_max'] * 1000:.1f} ms; "
                f"peak RSS {scale['peak_rss_mb']:.1f} MiB (target < {TARGETS['peak_rss_mb']:.0f}), "
                f"RSS at the end {scale['rss_mb']:.1f} MiB; "
                f"CPU {scale['cpu_seconds']:.1f} s",
                flush=True,
            )
        finally:
            stop(nginx)
    return 0


if __name__ == "__main__":
    sys.exit(main())
