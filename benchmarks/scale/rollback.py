"""Rollback evaluation of every service of a config against a real Prometheus (part of
``python -m benchmarks.scale``).

The rollback feature as the daemon wires it (``RollbackFeature``, ``Triggers``, a SQLite
store, the real Prometheus client over aiohttp), every service with a rollback policy. One
thing is left out: reading the current revision from Kubernetes (``kubectl`` per service,
``targets.py``) is replaced by a target that answers at once, so the figure is the
evaluation itself: the PromQL requests of one cycle (counted at the client) and the wall
time of ``evaluate_all``. The same cycle's triggers asked one service at a time (how the
daemon evaluated before the batching) give the figures to compare with, and must give the
same verdicts.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client import CollectorRegistry

from sre.checks.probe import ProbeState
from sre.checks.rollback import Revision
from sre.clients.commands import CommandResult
from sre.clients.prometheus import PrometheusClient, Series
from sre.config import Config
from sre.features.rollback.feature import RollbackFeature
from sre.features.rollback.triggers import Triggers
from sre.runtime.http import BearerToken
from sre.runtime.notices import OutboxNotifier
from sre.runtime.redact import Redactor
from sre.runtime.store.sqlite import open_sqlite

REQUESTS_TARGET = 10
CYCLE_TARGET_S = 2.0


class CountingPrometheus(PrometheusClient):
    """The real client, counting its range queries."""

    requests = 0

    async def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        self.requests += 1
        return await super().query_range(expr, start, end, step)


class DeployedAMinuteAgo:
    """A target whose current revision is known at once (no kubectl in this benchmark)."""

    kind = "benchmark"
    has_revisions = True

    def __init__(self, name: str) -> None:
        self.name = name
        self.deployed_at = time.time() - 60

    def describe(self) -> dict[str, Any]:
        return {"kind": "benchmark", "name": self.name}

    async def revision(self) -> Revision:
        return Revision("2", deployed_at=self.deployed_at, previous="1")

    async def roll_back(self, to: str, timeout: float) -> list[CommandResult]:
        return [CommandResult(("benchmark", self.name, to), 0, "", 0.0)]


class NoProbes:
    async def for_service(self, service: str) -> list[ProbeState]:
        return []


@dataclass
class Figures:
    services: int
    requests: list[int]  # per cycle, batched
    seconds: list[float]  # evaluate_all, batched
    judge_seconds: list[float]  # the trigger queries alone, batched
    alone_requests: int  # one cycle, one service at a time
    alone_seconds: float
    same: int  # services whose verdicts agree both ways
    verdicts: Counter[str]


async def measure(cfg: Config, prometheus_url: str, tmp: Path, rounds: int) -> Figures:
    services = [s for s in cfg.services if s.rollback is not None]
    store = open_sqlite(tmp / "rollback-state.db")
    try:
        async with aiohttp.ClientSession() as session:
            prom = CountingPrometheus(prometheus_url, session)
            triggers = Triggers(cfg, prom, NoProbes())
            feature = RollbackFeature(
                services,
                cfg.daemon.rollbacks,
                targets={s.name: DeployedAMinuteAgo(s.name) for s in services},
                triggers=triggers,
                store=store,
                notices=OutboxNotifier(store),
                registry=CollectorRegistry(),
                clock=time.time,
                api_token=BearerToken(None, open_without=False),
                redactor=Redactor(),
            )
            await feature.evaluate_all()  # warm-up: the store learns every revision
            requests, seconds, judged = [], [], []
            for _ in range(rounds):
                before, start = prom.requests, time.perf_counter()
                await feature.evaluate_all()
                seconds.append(time.perf_counter() - start)
                requests.append(prom.requests - before)
                start = time.perf_counter()
                await triggers.judge(services, time.time())
                judged.append(time.perf_counter() - start)
            now = time.time() - 1
            cycle = await triggers.judge(services, now)
            before, start = prom.requests, time.perf_counter()
            alone = await asyncio.gather(*(triggers.verdicts(s, None, now) for s in services))
            alone_seconds = time.perf_counter() - start
            same = sum(
                1
                for s, (verdicts, _) in zip(services, alone, strict=True)
                if cycle.verdicts[s.name] == verdicts
            )
            outcomes = Counter(
                f"{v.trigger} {v.outcome}" + (f" ({v.reason})" if v.outcome == "no_verdict" else "")
                for vs in cycle.verdicts.values()
                for v in vs
            )
            return Figures(
                services=len(services),
                requests=requests,
                seconds=seconds,
                judge_seconds=judged,
                alone_requests=prom.requests - before,
                alone_seconds=alone_seconds,
                same=same,
                verdicts=outcomes,
            )
    finally:
        store.close()


def report(f: Figures, met: Any) -> None:
    worst = max(f.requests)
    slowest = max(f.seconds)
    print(
        f"  batched: {worst} PromQL requests per cycle (target <= {REQUESTS_TARGET}): "
        f"{met(worst <= REQUESTS_TARGET)}"
    )
    print(
        f"  cycle (evaluate_all of {f.services} services, {len(f.seconds)} cycles): median "
        f"{statistics.median(f.seconds):.3f} s, max {slowest:.3f} s "
        f"(target < {CYCLE_TARGET_S:.0f} s): {met(slowest < CYCLE_TARGET_S)}; "
        f"the queries alone: median {statistics.median(f.judge_seconds):.3f} s"
    )
    ratio = f.alone_requests / max(1, worst)
    print(
        f"  one service at a time (before the batching): {f.alone_requests} requests, "
        f"the queries alone {f.alone_seconds:.3f} s ({ratio:.0f}x the requests, "
        f"{f.alone_seconds / max(1e-9, statistics.median(f.judge_seconds)):.1f}x the time)"
    )
    print(f"  same verdicts both ways: {f.same} of {f.services} services")
    print("  verdicts: " + ", ".join(f"{n} {k}" for k, n in sorted(f.verdicts.items())))
