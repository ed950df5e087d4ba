"""Scale benchmark: ``python -m benchmarks.scale`` (figures beside their targets, never asserts).

1. Generates configs of 4, 50 and 500 services in one run (``benchmarks.scale.generate``:
   a main ``sre.yaml`` with ``service_defaults`` and one included file per team).
2. Renders each with the full command, ``python -m sre.render`` (promtool included), median
   of ``--runs``: target under 3 s at 500 services with every check passing.
3. Compares each dashboard's JSON at 500 services with its size at 4: target at most 1.5x.
4. Counts what the rules become: rules, alerts, bytes, PrometheusRule objects and the
   largest one (against the ``kubectl apply`` budget of 240 KiB).
5. Starts Debian's Prometheus scraping a synthetic platform of 500 services (each its own
   target) and evaluating the 500-service rules, and reads
   ``prometheus_rule_group_last_duration_seconds`` over several evaluations: target, the
   sum over every group under 1 s per evaluation.
6. Against the same Prometheus, rollback evaluation of the 500 services, each with a
   rollback policy (``benchmarks/scale/rollback.py``): PromQL requests per cycle (target
   at most 10) and the cycle's wall time (target under 2 s), beside the same cycle asked
   one service at a time as before the batching.
7. The real daemon with 500 services and ``--probes`` (10,000) probe targets on nginx, for
   90 s (``benchmarks/scale/daemon.py``): peak RSS, target under 200 MB.
8. Why the catalogue of services is a ``vector(1)`` record per service and not one
   expression: both, alone in a Prometheus, evaluated every second, median of 10.

Prometheus here holds minutes of data, not 30 days: range functions over the 1d/3d/30d SLO
windows cost more on a real one (see docs/scale.md). Options: ``--runs N`` (default 3),
``--services 4,50,500``, ``--interval S`` (scrape and evaluation, default 10), ``--rounds N``
evaluations sampled (default 5) and rollback cycles, ``--probes P`` (default 10,000),
``--skip-prometheus``.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks.scale import daemon, generate, platform, rollback
from sre import promql
from sre.config import Config, load_config
from sre.devtools.synthetic import Prometheus
from sre.model import Record, RuleGroup
from sre.render.rulefiles import rule_files

ROOT = Path(__file__).resolve().parents[2]
RENDER_TARGET_S = 3.0
GROWTH_TARGET = 1.5
EVALUATION_TARGET_S = 1.0
APPLY_BUDGET = 240 * 1024
DAEMON_SECONDS = 90.0  # three rounds of the 30 s health probes, six of the 15 s ones


def render(config: Path, out: Path, runs: int) -> tuple[list[float], int, str]:
    """Wall times of the full command, its last exit code and summary line."""
    times, code, last = [], 0, ""
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "sre.render", "--config", str(config), "--out", str(out)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        times.append(time.perf_counter() - start)
        code = proc.returncode
        last = (proc.stdout.strip().splitlines() or [""])[-1]
    return times, code, last


def dashboard_sizes(out: Path) -> dict[str, int]:
    prefix = "scale-"
    return {
        p.stem.removeprefix(prefix): p.stat().st_size
        for p in sorted((out / "dashboards").glob("*.json"))
    }


def rule_figures(out: Path) -> dict[str, int]:
    rules = alerts = 0
    for path in (out / "rules").glob("*.yaml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules += len(group["rules"])
            alerts += sum(1 for r in group["rules"] if "alert" in r)
    objects = sorted((out / "kubernetes").glob("prometheusrule-*.yaml"))
    return {
        "rules": rules,
        "alerts": alerts,
        "rule bytes": sum(p.stat().st_size for p in (out / "rules").glob("*.yaml")),
        "PrometheusRule objects": len(objects),
        "largest object bytes": max((p.stat().st_size for p in objects), default=0),
    }


def met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def render_part(tmp: Path, counts: list[int], runs: int) -> None:
    sizes: dict[int, dict[str, int]] = {}
    figures: dict[int, dict[str, int]] = {}
    print(f"render: python -m sre.render (promtool included), median of {runs}")
    for n in counts:
        config = generate.write(tmp / f"n{n}", n)
        out = tmp / f"build-{n}"
        times, code, summary = render(config, out, runs)
        median = statistics.median(times)
        target = ""
        if n == max(counts):
            ok = median < RENDER_TARGET_S and code == 0
            target = f"   target < {RENDER_TARGET_S:.0f} s, all checks pass: {met(ok)}"
        print(f"  {n:>4} services: {median:6.3f} s, exit {code} ({summary}){target}")
        sizes[n] = dashboard_sizes(out)
        figures[n] = rule_figures(out)
    small, large = min(counts), max(counts)
    print(f"\ndashboard JSON, bytes at {small} / {large} services (target <= {GROWTH_TARGET}x)")
    for uid, base in sizes[small].items():
        grown = sizes[large].get(uid, 0)
        ratio = grown / base
        print(f"  {uid:<22} {base:>9,} {grown:>9,}  {ratio:5.2f}x  {met(ratio <= GROWTH_TARGET)}")
    print("\nrules (build/rules and build/kubernetes)")
    print("  " + " " * 24 + "".join(f"{n:>10}" for n in counts))
    for key in figures[small]:
        print(f"  {key:<24}" + "".join(f"{figures[n][key]:>10,}" for n in counts))
    largest = figures[large]["largest object bytes"]
    print(
        f"  largest PrometheusRule at {large}: {largest:,} bytes, "
        f"target <= {APPLY_BUDGET:,} (kubectl apply): {met(largest <= APPLY_BUDGET)}"
    )


def prometheus_part(tmp: Path, n: int, interval: int, rounds: int, probes: int) -> None:
    """Everything that needs the synthetic platform: rule evaluation, rollback evaluation,
    the daemon's memory."""
    if shutil.which("prometheus") is None:
        print("\nrule evaluation: not measured (Debian's prometheus is not installed)")
        return
    cfg = load_config(generate.write(tmp / "eval", n, applications=platform.SELECTOR))
    with platform.platform(tmp / "prom", cfg, interval=f"{interval}s") as p:
        evaluation_part(p, cfg, interval, rounds)
        every = load_config(
            generate.write(tmp / "rollback", n, applications=platform.SELECTOR, rollback_every=1)
        )
        print(
            f"\nrollback evaluation: {n} services, each with a rollback policy, against the same "
            "Prometheus (revisions from a stand-in, not kubectl)"
        )
        figures = asyncio.run(rollback.measure(every, p.prometheus.url, tmp, rounds))
        rollback.report(figures, met)
        if not daemon.available():
            print("\ndaemon memory: not measured (nginx is not installed; make bench does)")
            return
        print(
            f"\ndaemon memory: the real daemon, {n} services, {probes:,} probe targets on nginx, "
            "its rollback triggers on the same Prometheus"
        )
        d = daemon.measure(tmp / "daemon", n, probes, p.prometheus.url, seconds=DAEMON_SECONDS)
        daemon.report(d, met)


def evaluation_part(p: platform.SyntheticPlatform, cfg: Config, interval: int, rounds: int) -> None:
    n = len(cfg.services)
    print(
        f"\nrule evaluation: real Prometheus, {n} services each scraped every {interval} s, "
        f"rules evaluated every {interval} s"
    )
    p.synthetic.set(cfg.services[3].name, error_ratio=0.5)
    # Warm up: every target scraped twice, so every rule has its series.
    p.wait_for_evaluations(3, timeout=interval * 12)
    totals: list[float] = []
    worst: dict[str, float] = {}
    for _ in range(rounds):
        p.wait_for_evaluations(1, timeout=interval * 6)
        groups = p.rule_groups()
        totals.append(sum(g.last_duration_s for g in groups))
        for g in groups:
            worst[g.name] = max(worst.get(g.name, 0.0), g.last_duration_s)
    groups = p.rule_groups()
    samples = sum(g.samples for g in groups)
    rules = sum(g.rules for g in groups)
    series = len(p.query('{job="synthetic"}'))
    print(f"  {len(groups)} groups, {rules} rules, {samples:,} samples recorded per evaluation")
    print(f"  {series:,} scraped series")
    for name, seconds in sorted(worst.items(), key=lambda kv: -kv[1])[:5]:
        print(f"    slowest groups: {name:<32} {seconds * 1000:8.1f} ms")
    print(
        f"  sum of prometheus_rule_group_last_duration_seconds over {rounds} evaluations: "
        f"median {statistics.median(totals) * 1000:.1f} ms, max {max(totals) * 1000:.1f} ms"
        f"   target < {EVALUATION_TARGET_S:.0f} s: {met(max(totals) < EVALUATION_TARGET_S)}"
    )


def catalogue_part(tmp: Path, n: int) -> None:
    if shutil.which("prometheus") is None:
        return
    cfg = load_config(generate.write(tmp / "catalogue", n))
    spaces = {s.name: s.namespace for s in cfg.services}
    records = tuple(
        Record("bench:records:info", "vector(1)", {"service": name, "namespace": ns})
        for name, ns in spaces.items()
    )
    tree = promql.either(
        [
            f'label_replace(label_replace(vector(1), "service", "{name}", "", ""), '
            f'"namespace", "{ns}", "", "")'
            for name, ns in spaces.items()
        ]
    )
    groups = [
        RuleGroup("records", "records", records),
        RuleGroup("one-expression", "tree", (Record("bench:tree:info", tree),)),
    ]
    files = []
    for name, text in rule_files(groups).items():
        (tmp / name).write_text(text, encoding="utf-8")
        files.append(tmp / name)
    prom = Prometheus(tmp, [], evaluation_interval="1s", rule_files=files, scrape_configs="  []\n")
    durations: dict[str, list[float]] = {}
    with prom:
        p = platform.Platform(prom, None)
        p.wait_for_evaluations(2, timeout=60)
        for _ in range(10):
            p.wait_for_evaluations(1, timeout=30)
            for g in p.rule_groups():
                durations.setdefault(g.name, []).append(g.last_duration_s)
    print(f"\ncatalogue of {n} services, median evaluation of 10")
    for name, values in sorted(durations.items()):
        print(f"  {name:<16} {statistics.median(values) * 1000:7.1f} ms")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--services", default="4,50,500")
    p.add_argument("--interval", type=int, default=10)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--probes", type=int, default=10_000)
    p.add_argument("--skip-prometheus", action="store_true")
    args = p.parse_args(argv)
    counts = sorted({int(n) for n in args.services.split(",")})
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as name:
        tmp = Path(name)
        render_part(tmp, counts, args.runs)
        if not args.skip_prometheus:
            prometheus_part(tmp, max(counts), args.interval, args.rounds, args.probes)
            catalogue_part(tmp, max(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
