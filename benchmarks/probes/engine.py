"""Child process of the probe benchmark: the real daemon (``sre.daemon.app.Daemon``) with a
hook that records each probe's scheduled and actual start.

``python -m benchmarks.probes.engine CONFIG WARMUP WINDOW`` runs the daemon for
WARMUP + WINDOW seconds and prints one JSON line: probes started and this process's CPU
seconds (from /proc/self/stat) during the window, start lateness percentiles over the
whole run (and over the window alone), and peak RSS (VmHWM).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from array import array

from benchmarks.probes.helpers import cpu_seconds, peak_rss_mb, rss_mb
from sre.config import config_sha256, load_config
from sre.daemon.process import Daemon


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(config: str, warmup: float, window: float) -> dict[str, float]:
    cfg = load_config(config)
    lateness = array("d")
    steady = array("d")  # after the warm-up only

    def started(scheduled: float, actual: float) -> None:
        lateness.append(actual - scheduled)
        if warmed:
            steady.append(actual - scheduled)

    warmed = False

    daemon = Daemon(cfg, config_sha256(config), on_probe_start=started)
    await daemon.start()
    await asyncio.sleep(warmup)
    warmed = True
    probes0, cpu0 = len(lateness), cpu_seconds(os.getpid())
    await asyncio.sleep(window)
    probes1, cpu1 = len(lateness), cpu_seconds(os.getpid())
    await daemon.stop()
    values = list(lateness)
    return {
        "probes": probes1 - probes0,
        "cpu_seconds": cpu1 - cpu0,
        "window": window,
        "starts": len(values),
        "lateness_p50": percentile(values, 0.50),
        "lateness_p99": percentile(values, 0.99),
        "lateness_max": max(values) if values else float("nan"),
        "window_lateness_p99": percentile(list(steady), 0.99),
        "window_lateness_max": max(steady) if steady else float("nan"),
        "peak_rss_mb": peak_rss_mb(os.getpid()),
        "rss_mb": rss_mb(os.getpid()),
    }


if __name__ == "__main__":
    path, warm, win = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    print(json.dumps(asyncio.run(run(path, warm, win))), flush=True)
