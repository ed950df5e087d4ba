"""Probes sharded over three replicas: 30,000 targets at a 15 s interval.

Each replica is the real daemon (``benchmarks.probes.engine``: ``Daemon`` with a hook on
every probe start) on one PostgreSQL database; every replica configures all 30,000
targets and probes its rendezvous-hash share. The targets are distinct paths on Debian's
nginx on loopback, which logs each request's time and path: over a window in the steady
state, every target must be probed once per interval (by one replica: consecutive probes
an interval apart). Per replica: probe start lateness (p99) and peak RSS.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from benchmarks.probes.helpers import free_port, start_nginx, stop

TARGETS, INTERVAL, REPLICAS = 30_000, 15.0, 3
WARMUP = 40.0  # all replicas up and sharing, before the counted window
WINDOW = 3 * INTERVAL
TARGET_P99_S, TARGET_RSS_MB = 1.0, 150.0


def write_config(path: Path, port: int, state: str) -> None:
    lines = [
        "system: bench",
        "prometheus: {url: 'http://127.0.0.1:9'}",
        "runbooks: {base_url: 'http://127.0.0.1/'}",
        "services:",
        "  - {name: bench, namespace: bench}",
        f"daemon: {{listen: '127.0.0.1:{free_port()}', state: '{state}',"
        " probe_concurrency: 256, webhook_token_env: null}",  # the default lease: 15 s
        "probes:",
    ]
    lines += [
        f"  - {{name: t{i}, service: bench, url: 'http://127.0.0.1:{port}/t/{i}',"
        f" interval: {INTERVAL:g}s, timeout: 1s}}"
        for i in range(TARGETS)
    ]
    path.write_text("\n".join(lines) + "\n")


def cadence(log: Path, start: float, end: float) -> Counter[str]:
    """Per target, over [start, end): ``once`` when every gap between its consecutive
    probes is an interval (within half an interval), else ``twice`` (a gap under half an
    interval: two replicas probed it) or ``missed`` (a gap over one and a half)."""
    hits: dict[int, list[float]] = {}
    for line in log.read_text().splitlines():
        at, _, uri = line.partition(" ")
        if uri.startswith("/t/") and start <= float(at) < end:
            hits.setdefault(int(uri[3:]), []).append(float(at))
    verdicts: Counter[str] = Counter()
    for target in range(TARGETS):
        times = sorted(hits.get(target, []))
        gaps = [b - a for a, b in itertools.pairwise(times)]
        if len(times) < (end - start) / INTERVAL - 1 or any(g > 1.5 * INTERVAL for g in gaps):
            verdicts["missed"] += 1
        elif any(g < 0.5 * INTERVAL for g in gaps):
            verdicts["twice"] += 1
        else:
            verdicts["once"] += 1
    return verdicts


def measure(tmp: Path, state: str) -> dict[str, object]:
    access = tmp / "access.log"
    nginx, port = start_nginx(tmp, access)
    procs = []
    try:
        for r in range(REPLICAS):
            config = tmp / f"probes{r}.yaml"
            write_config(config, port, state)
            run = [sys.executable, "-m", "benchmarks.probes.engine", str(config)]
            procs.append(
                subprocess.Popen(
                    [*run, str(WARMUP), str(WINDOW + 30)],
                    stdout=subprocess.PIPE,
                    stderr=(tmp / f"probes{r}.log").open("wb"),
                    text=True,
                )
            )
        started = time.time()
        # The counted window: two whole intervals, in the middle of the engines' window.
        window_start = (int((started + WARMUP + 15) / INTERVAL) + 1) * INTERVAL
        results = []
        for proc in procs:
            out, _ = proc.communicate(timeout=WARMUP + WINDOW + 600)
            if proc.returncode != 0:
                raise SystemExit(f"replica failed: see {tmp}/probes*.log")
            results.append(json.loads(out.strip().splitlines()[-1]))
        time.sleep(1.5)  # nginx flushes its log every second
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        stop(nginx)
    return {"replicas": results, "cadence": cadence(access, window_start, window_start + WINDOW)}


def report(tmp: Path, state: str) -> list[str]:
    found = measure(tmp, state)
    replicas = found["replicas"]
    assert isinstance(replicas, list)
    seen = found["cadence"]
    assert isinstance(seen, Counter)
    lines = [
        f"   {TARGETS:,} targets @ {INTERVAL:g}s over {REPLICAS} replicas, over "
        f"{WINDOW / INTERVAL:.0f} intervals in the steady state: {seen['once']:,} probed once "
        f"per interval (target: all {TARGETS:,}), {seen['twice']:,} twice, "
        f"{seen['missed']:,} missed an interval"
    ]
    for i, r in enumerate(replicas):
        lines.append(
            f"   replica {i}: {r['starts']:,.0f} probe starts; lateness in the steady state "
            f"p99 {r['window_lateness_p99'] * 1000:.1f} ms (target < {TARGET_P99_S:.0f} s), "
            f"max {r['window_lateness_max'] * 1000:.0f} ms; over the whole run (start-up "
            f"included) p99 {r['lateness_p99'] * 1000:.1f} ms; peak RSS "
            f"{r['peak_rss_mb']:.1f} MiB (target < {TARGET_RSS_MB:.0f}); "
            f"CPU {r['cpu_seconds']:.1f} s in the last {r['window']:.0f} s"
        )
    return lines
