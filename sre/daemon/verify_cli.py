"""``python -m sre.daemon verify``: the deploy gate. Is the service's new revision healthy?

It watches the service's rollback triggers (``services[].rollback``: error rate, p95
latency, health probes begun after the start) over a window against Prometheus, judged
exactly as the auto-rollback judges them (``sre.features.rollback.triggers``), and decides
with ``sre.checks.gate``. The first evaluation waits until the samples after the start
cover a whole trigger window (``rollback.for`` plus ``daemon.rollbacks.rate_window``), then
one runs every ``daemon.rollbacks.interval`` until the window is over.

Exit codes: 0 the whole window passed, 1 a trigger failed (at once), 2 a bad config or
usage, 3 no verdict at the end (no traffic, no data, Prometheus unreachable: the line says
which). Progress goes to stderr, the verdict line to stdout. Needs no state store and no
running daemon.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

import aiohttp
from prometheus_client import CollectorRegistry

import sre
from sre.checks import gate
from sre.checks.rollback import Revision, TriggerVerdict
from sre.clients.prometheus import PrometheusClient
from sre.config import Config, ConfigError, Service, load_config
from sre.config.durations import Duration
from sre.daemon.logs import setup_logging
from sre.features.probes.feature import ProbesFeature
from sre.features.rollback.triggers import Triggers
from sre.runtime.jobs import JobRunner
from sre.runtime.metrics import CoreMetrics

log = logging.getLogger("sre.daemon.verify")
DEFAULT_WINDOW = Duration.of(minutes=10)
Clock = Callable[[], float]


def _duration(text: str) -> Duration:
    try:
        found = Duration.parse(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    if found.milliseconds <= 0:
        raise argparse.ArgumentTypeError("must be longer than 0s")
    return found


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sre.daemon verify",
        description="Deploy gate: watch a service's rollback triggers (error rate, p95 "
        "latency, health probes) against Prometheus over a window after a deploy.",
        epilog="Exit codes: 0 the whole window passed, 1 a trigger failed (as soon as it "
        "does), 2 bad config or usage, 3 no verdict at the end (no traffic, no data, "
        "Prometheus unreachable). Progress lines go to stderr, the verdict line to stdout.",
    )
    parser.add_argument(
        "--config", default="sre.yaml", help="path to sre.yaml (default: %(default)s)"
    )
    parser.add_argument("--service", required=True, help="the service (it needs a rollback block)")
    parser.add_argument(
        "--for",
        dest="window",
        type=_duration,
        metavar="DURATION",
        help="how long to watch, e.g. 10m (default: the service's rollback.after_deploy, "
        f"else {DEFAULT_WINDOW})",
    )
    return parser.parse_args(argv)


@dataclass(frozen=True)
class Plan:
    service: Service
    window: float  # seconds after the start the verdict is given
    first: float  # seconds after the start of the first evaluation
    interval: float


def plan(cfg: Config, name: str, window: Duration | None) -> Plan | str:
    """What to watch and when, or why that cannot be done (a usage error)."""
    svc = next((s for s in cfg.services if s.name == name), None)
    gated = sorted(s.name for s in cfg.services if s.rollback is not None)
    if svc is None:
        return f"no service {name!r} in the config; services with triggers: {', '.join(gated)}"
    rb = svc.rollback
    if rb is None:
        return f"service {name!r} has no rollback block: its triggers are what verify watches"
    has_probe = any(p.service == name for p in cfg.all_probes())
    if (
        rb.error_rate_above is None
        and rb.latency_p95_above_seconds is None
        and (rb.health_failures is None or not has_probe)
    ):
        return f"services[{name}].rollback has no trigger to watch"
    engine = cfg.daemon.rollbacks
    step = engine.step.seconds
    first = math.ceil((rb.for_.seconds + engine.rate_window.seconds) / step - 1e-9) * step
    seconds = (window or rb.after_deploy or DEFAULT_WINDOW).seconds
    if seconds < first:
        return (
            f"--for {Duration.of(seconds=seconds)} is shorter than one trigger window "
            f"(rollback.for {rb.for_} + daemon.rollbacks.rate_window {engine.rate_window}, "
            f"in steps of {engine.step}: {Duration.of(seconds=first)}): no verdict is possible"
        )
    return Plan(svc, seconds, first, engine.interval.seconds)


def sources(cfg: Config, svc: Service) -> dict[str, str]:
    """Detail for the no-verdict reasons: which Prometheus, how much traffic is enough."""
    assert cfg.prometheus is not None and svc.rollback is not None
    return {
        "prometheus_unreachable": f" at {cfg.prometheus.url}",
        "low_traffic": f", below {svc.rollback.min_request_rate:g} requests/s",
    }


async def watch(cfg: Config, p: Plan, err: TextIO, clock: Clock = time.time) -> gate.GateResult:
    assert cfg.prometheus is not None
    name = p.service.name
    registry = CollectorRegistry()
    runner = JobRunner(CoreMetrics(registry, sre.__version__, ""), clock)
    probes = ProbesFeature(
        [pr for pr in cfg.all_probes() if pr.service == name],
        concurrency=cfg.daemon.probe_concurrency,
        runner=runner,
        registry=registry,
        clock=clock,
    )
    timeout = aiohttp.ClientTimeout(total=max(5.0, p.interval))
    async with aiohttp.ClientSession(timeout=timeout) as session:
        triggers = Triggers(cfg, PrometheusClient(cfg.prometheus.url, session), probes.status)
        started = clock()
        revision = Revision("verify", deployed_at=started, previous=None)
        print(
            f"verify {name}: watching for {p.window:.0f}s against {cfg.prometheus.url}; "
            f"first evaluation after {p.first:.0f}s, then every {p.interval:g}s",
            file=err,
            flush=True,
        )
        await probes.start()
        try:
            return await _evaluate(
                triggers, p, revision=revision, started=started, err=err, clock=clock, cfg=cfg
            )
        finally:
            await probes.stop(1.0)


async def _evaluate(
    triggers: Triggers,
    p: Plan,
    *,
    revision: Revision,
    started: float,
    err: TextIO,
    clock: Clock,
    cfg: Config,
) -> gate.GateResult:
    name = p.service.name
    due = started + p.first
    end = started + p.window
    evaluations = passed = 0
    verdicts: list[TriggerVerdict] = []
    while True:
        if not evaluations and due - clock() > p.interval:  # a long first wait: say so
            await asyncio.sleep(p.interval)
            print(
                f"verify {name}: {clock() - started:.0f}s of {p.window:.0f}s: collecting "
                f"samples after the start, first evaluation at {p.first:.0f}s",
                file=err,
                flush=True,
            )
            continue
        await asyncio.sleep(max(0.0, due - clock()))
        now = clock()
        verdicts, _ = await triggers.verdicts(p.service, revision, now)
        evaluations += 1
        passed += all(v.outcome == "pass" for v in verdicts) and bool(verdicts)
        elapsed = now - started
        print(
            f"verify {name}: {elapsed:.0f}s of {p.window:.0f}s: {gate.summary(verdicts)}",
            file=err,
            flush=True,
        )
        failed = gate.evaluation(name, verdicts, elapsed=elapsed)
        if failed is not None:
            return failed
        if now >= end - 1e-3:
            return gate.final(
                name,
                verdicts,
                window=p.window,
                evaluations=evaluations,
                passed=passed,
                sources=sources(cfg, p.service),
            )
        due = min(end, max(due + p.interval, clock()))


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        cfg = load_config(args.config)
    except ConfigError as error:
        print(error.render(), file=sys.stderr)
        return gate.USAGE
    found = plan(cfg, args.service, args.window)
    if isinstance(found, str):
        print(f"python -m sre.daemon verify: {found}", file=sys.stderr)
        return gate.USAGE
    setup_logging("warning", "text")
    try:
        result = asyncio.run(watch(cfg, found, sys.stderr))
    except KeyboardInterrupt:
        print(f"NO VERDICT {args.service}: interrupted", flush=True)
        return gate.NO_VERDICT
    except Exception:  # a bug must not read as "a trigger failed" (exit 1)
        log.exception("verify failed")
        print(f"NO VERDICT {args.service}: the gate itself failed (see above)", flush=True)
        return gate.NO_VERDICT
    print(result.line, flush=True)
    return result.code
