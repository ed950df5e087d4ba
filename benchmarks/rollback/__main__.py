"""Auto-rollback benchmark: ``python -m benchmarks.rollback`` (figures only, never asserts).

The real daemon process, Debian's Prometheus scraping a synthetic service every 1 s, and a
``command`` rollback target that records when it starts. Every service has ``for: 10s``.

1. Decision time: a healthy service (20 req/s) gets a 20% error rate injected; the time
   from the injection to the rollback command starting, over ``--runs`` services in turn,
   against the target ``for + 2 x interval + scrape interval``.
2. False rollbacks (target zero): services that stay healthy, services with no traffic,
   and, with Prometheus stopped, services that start failing (nobody can see it).

Options: ``--runs N`` (default 5), ``--interval S`` (evaluation interval, default 2).
Run time is bounded: about 2-3 minutes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from sre.devtools.synthetic import Prometheus, SyntheticService
from tests.helpers import free_port, wait_for_http

ROOT = Path(__file__).resolve().parents[2]
FOR_S, SCRAPE_S = 10.0, 1.0
HEALTHY = {"rps": 20.0, "error_ratio": 0.0}


# rate() needs two samples inside its window: with a 1 s scrape, 2 s is the shortest window
# that works. The decision can take up to rate_window longer than the formula,
# because the whole window must breach for `for` *after* the rate smear (no burst shorter
# than `for` can ever look sustained).
RATE_WINDOW_MS = 2000


def config(tmp: Path, prom_url: str, names: list[str], script: Path, interval: float) -> Path:
    services = [
        {
            "name": name,
            "namespace": "bench",
            "rollback": {
                "target": {
                    "kind": "command",
                    "argv": [str(script), name],
                    "revision_argv": ["/bin/echo", '{"revision": "2", "previous": "1"}'],
                },
                "error_rate_above": 0.05,
                "for": f"{FOR_S:g}s",
                "health_failures": None,
                "cooldown": "0s",
            },
        }
        for name in names
    ]
    data: dict[str, Any] = {
        "system": "bench",
        "prometheus": {"url": prom_url},
        "runbooks": {"base_url": "http://127.0.0.1/"},
        "services": services,
        "daemon": {
            "listen": f"127.0.0.1:{free_port()}",
            "state": f"sqlite:///{tmp}/state.db",
            "shutdown_timeout": "5s",
            "rollbacks": {
                "interval": f"{interval:g}s",
                "rate_window": f"{RATE_WINDOW_MS}ms",
                "step": "1s",
            },
        },
    }
    path = tmp / "sre.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def started(record: Path) -> dict[str, float]:
    """service -> when its rollback command started (first invocation)."""
    out: dict[str, float] = {}
    if record.exists():
        for line in record.read_text().splitlines():
            name, _, at = line.partition(" ")
            out.setdefault(name, float(at))
    return out


def invocations(record: Path) -> list[str]:
    return (
        [line.split(" ")[0] for line in record.read_text().splitlines()] if record.exists() else []
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.rollback")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--interval", type=float, default=2.0)
    args = parser.parse_args(argv)
    target = FOR_S + 2 * args.interval + SCRAPE_S
    runs = [f"inject-{i}" for i in range(args.runs)]
    healthy = [f"healthy-{i}" for i in range(args.runs)]
    idle = [f"idle-{i}" for i in range(args.runs)]
    blind = [f"blind-{i}" for i in range(args.runs)]  # fail while Prometheus is stopped
    with tempfile.TemporaryDirectory(prefix="bench-rollback-") as name:
        tmp = Path(name)
        record = tmp / "invocations"
        script = tmp / "rollback.sh"
        script.write_text(f'#!/bin/sh\necho "$1 $(date +%s.%N)" >> {record}\n')
        script.chmod(0o755)
        with SyntheticService() as syn:
            for svc in runs + healthy + blind:
                syn.set(svc, **HEALTHY)
            for svc in idle:
                syn.set(svc, rps=0.0)
            prom = Prometheus(tmp, [syn.target]).start()
            path = config(tmp, prom.url, runs + healthy + idle + blind, script, args.interval)
            log = (tmp / "daemon.log").open("wb")
            env = {**os.environ, "SRE_WEBHOOK_TOKEN": "bench"}
            daemon = subprocess.Popen(
                [sys.executable, "-m", "sre.daemon", "--config", str(path)],
                cwd=ROOT,
                stdout=log,
                stderr=log,
                env=env,
            )
            try:
                listen = yaml.safe_load(path.read_text())["daemon"]["listen"]
                wait_for_http(f"http://{listen}/readyz")
                print(f"warming up: {FOR_S + 5:g}s of healthy history", flush=True)
                time.sleep(FOR_S + 5)
                delays = []
                for svc in runs:
                    injected = syn.set(svc, error_ratio=0.2)
                    deadline = time.time() + 3 * target
                    while svc not in started(record) and time.time() < deadline:
                        time.sleep(0.1)
                    at = started(record).get(svc)
                    delay = None if at is None else at - injected
                    delays.append(delay)
                    shown = "no rollback" if delay is None else f"{delay:5.1f} s"
                    print(f"  {svc}: injection -> rollback command start {shown}", flush=True)
                    syn.set(svc, error_ratio=0.0)
                prom.stop()
                for svc in blind:
                    syn.set(svc, error_ratio=0.2)
                blind_s = FOR_S + 4 * args.interval + 10
                print(f"Prometheus stopped; {len(blind)} services failing, watching {blind_s:g}s")
                time.sleep(blind_s)
                metrics = urllib.request.urlopen(f"http://{listen}/metrics", timeout=5).read()
            finally:
                daemon.terminate()
                daemon.wait(timeout=30)
                log.close()
                prom.stop()
        calls = invocations(record)
        measured = [d for d in delays if d is not None]
        print()
        print(
            f"evaluation interval {args.interval:g}s, for {FOR_S:g}s, scrape {SCRAPE_S:g}s, "
            f"rate window {RATE_WINDOW_MS / 1000:g}s"
        )
        print(f"decision time, {len(runs)} runs (target <= {target:g} s):")
        if measured:
            print(
                f"  min {min(measured):.1f} s  median {statistics.median(measured):.1f} s  "
                f"max {max(measured):.1f} s  missed {len(delays) - len(measured)}"
            )
        else:
            print("  no rollback happened")
        for label, group in (
            ("healthy", healthy),
            ("no traffic", idle),
            ("Prometheus down", blind),
        ):
            false = sum(1 for c in calls if c in group)
            print(f"false rollbacks, {label:<16} {len(group)} services: {false} (target 0)")
        repeated = len(calls) - len(set(calls))
        print(f"second rollbacks of an injected service (target 0): {repeated}")
        unreachable = sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics.decode().splitlines()
            if line.startswith("sre_rollback_evaluations_total{")
            and 'reason="prometheus_unreachable"' in line
        )
        print(f"evaluations without a verdict while Prometheus was down: {unreachable:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
