"""The daemon's memory with N services and P probe targets (part of
``python -m benchmarks.scale``).

The real daemon process (``python -m sre.daemon``) with the generator's config of N
services (``service_defaults`` and team files) and P probe targets, every probe pointing
at Debian's nginx on a loopback port (every path answers 200), its rollback triggers
querying the benchmark's Prometheus. ``kubectl`` is a stand-in that fails at once (no
cluster here): the revisions are unknown, so nothing is rolled back, and nothing spawns a
real kubectl per service per cycle. After a few probe intervals: the peak resident set
(``VmHWM`` of ``/proc/PID/status``) against the target, and what the daemon's own metrics
say it did meanwhile.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.probes.helpers import find, peak_rss_mb, rss_mb, start_nginx, stop
from benchmarks.scale import generate
from tests.helpers import free_port
from tests.helpers.daemon import DaemonProcess

RSS_TARGET_MB = 200.0
KUBECTL = "#!/bin/sh\necho 'kubectl: no cluster in this benchmark' >&2\nexit 1\n"


@dataclass
class Figures:
    services: int
    targets: int
    seconds: float
    peak_mb: float
    rss_mb: float
    probed: int  # targets with a result
    up: float  # of them, passing
    probes_failed: float
    cycles: float  # rollback.evaluate runs
    cycle_seconds: float  # their mean duration
    queries: float  # rollback trigger queries


def _metrics(text: str) -> tuple[dict[str, float], dict[str, int]]:
    """Sums and counts of the samples by name (and job, for the job metrics)."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            job = s.labels.get("job")
            key = f"{s.name}:{job}" if job else s.name
            sums[key] = sums.get(key, 0.0) + s.value
            counts[key] = counts.get(key, 0) + 1
    return sums, counts


def settled(daemon: DaemonProcess) -> tuple[dict[str, float], dict[str, int]]:
    """The daemon's metrics between two rollback cycles (a cycle counts its queries before
    it counts itself): two readings 2 s apart that agree on both."""
    wanted = ("sre_rollback_queries_total", "sre_job_duration_seconds_count:rollback.evaluate")
    last = _metrics(daemon.get("/metrics")[1])
    for _ in range(10):
        time.sleep(2)
        now = _metrics(daemon.get("/metrics")[1])
        if all(now[0].get(k) == last[0].get(k) for k in wanted):
            return now
        last = now
    return last


def config(tmp: Path, n: int, probes: int, prometheus_url: str, nginx_port: int) -> dict[str, Any]:
    main = generate.write(
        tmp,
        n,
        probes=probes,
        applications='job="synthetic"',
        probe_base=f"http://127.0.0.1:{nginx_port}",
    )
    data: dict[str, Any] = yaml.safe_load(main.read_text())
    data["prometheus"]["url"] = prometheus_url
    data["daemon"] = {
        "listen": f"127.0.0.1:{free_port()}",
        "state": f"sqlite:///{tmp}/state.db",
        "webhook_token_env": None,
    }
    return data


def measure(tmp: Path, n: int, probes: int, prometheus_url: str, seconds: float) -> Figures:
    tmp.mkdir(parents=True, exist_ok=True)
    nginx, port = start_nginx(tmp)
    try:
        data = config(tmp, n, probes, prometheus_url, port)
        bin_dir = tmp / "bin"
        bin_dir.mkdir(exist_ok=True)
        (bin_dir / "kubectl").write_text(KUBECTL)
        (bin_dir / "kubectl").chmod(0o755)
        env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
        daemon = DaemonProcess(tmp, data, env=env)  # over the generated sre.yaml, same data
        try:
            daemon.wait_ready()
            start = time.monotonic()
            while time.monotonic() - start < seconds:
                time.sleep(2)
                if daemon.proc.poll() is not None:
                    raise SystemExit(f"the daemon exited:\n{daemon.output()[-3000:]}")
            peak, now = peak_rss_mb(daemon.proc.pid), rss_mb(daemon.proc.pid)
            m, counts = settled(daemon)
        finally:
            daemon.stop()
    finally:
        stop(nginx)
    runs = m.get("sre_job_duration_seconds_count:rollback.evaluate", 0.0)
    return Figures(
        services=n,
        targets=max(n, probes),
        seconds=seconds,
        peak_mb=peak,
        rss_mb=now,
        probed=counts.get("sre_probe_success", 0),
        up=m.get("sre_probe_success", 0.0),
        probes_failed=m.get("sre_probe_failures_total", 0.0),
        cycles=runs,
        cycle_seconds=m.get("sre_job_duration_seconds_sum:rollback.evaluate", 0.0) / max(1, runs),
        queries=m.get("sre_rollback_queries_total", 0.0),
    )


def available() -> bool:
    return find("nginx") is not None


def report(f: Figures, met: Any) -> None:
    print(
        f"  peak RSS (VmHWM) {f.peak_mb:.1f} MiB after {f.seconds:.0f} s "
        f"(target < {RSS_TARGET_MB:.0f} MB): {met(f.peak_mb < RSS_TARGET_MB)}; "
        f"RSS at the end {f.rss_mb:.1f} MiB"
    )
    print(
        f"  meanwhile: {f.probed:,} of {f.targets:,} targets probed, {f.up:,.0f} up at the end, "
        f"{f.probes_failed:,.0f} failed probes; {f.cycles:.0f} rollback cycles, "
        f"mean {f.cycle_seconds:.3f} s, {f.queries / max(1, f.cycles):.1f} queries each"
    )
