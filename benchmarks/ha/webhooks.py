"""Webhook intake: two replicas on PostgreSQL against one daemon on SQLite, in the same run.

Version 4 webhooks (one new alert group each) are sent open-loop at rising rates for a
few seconds per step, spread over the replicas as a Kubernetes Service would; per step
the achieved rate and the response time percentiles. The local Slack server runs in a
child process (its own GIL); delivery goes on meanwhile, as in production.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from benchmarks.alerts.load import new_groups, open_loop
from benchmarks.alerts.slack_child import SlackChild
from tests.helpers.ha import TOKEN, Replica, replica_config, start_replicas

RATES = (500, 1000, 1500)
STEP_SECONDS = 4.0
TARGET_RATE, TARGET_P99_MS = 1000.0, 50.0


async def step(urls: list[str], rate: int, first: int, prefix: str) -> dict[str, float]:
    bodies = new_groups(prefix, first, int(rate * STEP_SECONDS))
    return await open_loop(urls, bodies, rate, TOKEN)


def run_steps(replicas: list[Replica], prefix: str) -> list[dict[str, float]]:
    urls = [r.url("/alertmanager") for r in replicas]
    out, first = [], 0
    for rate in RATES:
        out.append(asyncio.run(step(urls, rate, first, prefix)))
        first += int(rate * STEP_SECONDS)
        time.sleep(1.0)
    return out


def measure(tmp: Path, state: str) -> dict[str, list[dict[str, float]]]:
    with SlackChild() as slack:
        results: dict[str, list[dict[str, float]]] = {}
        setups: list[tuple[str, str, int]] = [
            ("2 replicas, PostgreSQL", state, 2),
            ("1 daemon, SQLite", f"sqlite:///{tmp}/sqlite/state.db", 1),
        ]
        for label, url, count in setups:
            where = tmp / label.split(",")[0].replace(" ", "-")
            where.mkdir(parents=True, exist_ok=True)
            extra: dict[str, Any] = {"slack": {"routes": [{"channel": "#bench"}]}}
            configs = [replica_config(where, url, slack.base_url, **extra) for _ in range(count)]
            replicas = start_replicas(where, configs, slack.token)
            try:
                time.sleep(2.0)  # leases settled, pools warm
                results[label] = run_steps(replicas, "Bench" if count == 1 else "Pair")
            finally:
                for replica in replicas:
                    replica.stop()
        return results


def report(tmp: Path, state: str) -> list[str]:
    results = measure(tmp, state)
    lines = []
    for label, steps in results.items():
        for s in steps:
            lines.append(
                f"   {label}: offered {s['rate']:.0f}/s -> {s['achieved']:,.0f}/s, "
                f"p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms, errors {s['errors']:.0f}"
            )
    pair = results["2 replicas, PostgreSQL"]
    solo = results["1 daemon, SQLite"]
    at = next((s for s in pair if s["rate"] == TARGET_RATE), pair[-1])
    base = next((s for s in solo if s["rate"] == TARGET_RATE), solo[-1])
    ratio = at["achieved"] / base["achieved"] if base["achieved"] else float("nan")
    lines.append(
        f"   the pair at {TARGET_RATE:.0f}/s offered: {at['achieved']:,.0f}/s with p99 "
        f"{at['p99_ms']:.1f} ms (target >= {TARGET_RATE:,.0f}/s, p99 < {TARGET_P99_MS:.0f} ms); "
        f"ratio to SQLite at the same rate {ratio:.2f}; best pair rate "
        f"{max(s['achieved'] for s in pair):,.0f}/s, best SQLite "
        f"{max(s['achieved'] for s in solo):,.0f}/s"
    )
    return lines
