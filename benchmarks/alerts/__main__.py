"""Alert handling benchmark: ``python -m benchmarks.alerts`` (figures only, never asserts).

Everything real and on loopback: the daemon process (``python -m sre.daemon``), Debian's
Alertmanager, and the local Slack server (sre/devtools/fake_slack.py) in a child process
of its own so it does not share this process's GIL with the load generator.

1. Ingest: version 4 webhooks (one alert, its own group each) posted open-loop at rising
   rates for a few seconds per step; per step the achieved rate and p50/p99 response time.
   (Delivery is paced to Slack's rate, one post a second per channel: how a backlog of
   thousands of groups reaches Slack is benchmarks/storm's subject, not this one's.)
2. Against Alertmanager's own Slack integration, on a quiet day: one Alertmanager with two
   receivers on the same route (``continue: true``): ``slack_configs`` straight to the
   Slack server's incoming-webhook URL, and ``webhook_configs`` to the daemon. Alerts are
   fired through Alertmanager's API a little slower than one a second (Slack's rate per
   channel, which the daemon keeps to and Alertmanager does not); per alert, the time from
   the API call to the Slack server receiving it on each path, and the daemon path's
   extra latency.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from benchmarks.alerts.load import new_groups, open_loop, pct
from benchmarks.alerts.slack_child import SlackChild
from tests.helpers import free_port, wait_for_http
from tests.helpers.alertmanager import Alertmanager, rfc3339

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "bench-webhook-token"
RATES = (250, 500, 1000, 1500, 2000)
STEP_SECONDS = 4.0
TARGETS = {"rate": 1000, "p99_response_ms": 50.0, "extra_p99_ms": 100.0}


# ---------------------------------------------------------------------- the daemon


def start_daemon(
    tmp: Path, slack: SlackChild, am_url: str | None, port: int | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    port = port or free_port()
    config: dict[str, Any] = {
        "system": "bench",
        "prometheus": {"url": "http://127.0.0.1:9"},
        "runbooks": {"base_url": "http://127.0.0.1/"},
        "services": [{"name": "api", "namespace": "ns"}],
        "daemon": {
            "listen": f"127.0.0.1:{port}",
            "state": f"sqlite:///{tmp}/state.db",
            "max_webhook_bytes": 1_048_576,
        },
        "slack": {"base_url": slack.base_url, "routes": [{"channel": "#bench"}]},
    }
    if am_url:
        config["alertmanager"] = {"url": am_url}
    path = tmp / "sre.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {
        **os.environ,
        "SRE_WEBHOOK_TOKEN": TOKEN,
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_SIGNING_SECRET": "bench",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "sre.daemon", "--config", str(path), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stdout=(tmp / "daemon.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/readyz", timeout=30)
    return proc, url


# ---------------------------------------------------------------------- 1. ingest


async def ingest_step(url: str, rate: int, first_id: int) -> dict[str, Any]:
    bodies = new_groups("BenchI", first_id, int(rate * STEP_SECONDS))
    return await open_loop([f"{url}/alertmanager"], bodies, rate, TOKEN, connections=256)


async def ingest(url: str) -> list[dict[str, Any]]:
    steps = []
    first = 0
    for rate in RATES:
        step = await ingest_step(url, rate, first)
        first += int(rate * STEP_SECONDS)
        steps.append(step)
        await asyncio.sleep(0.5)
    return steps


# ---------------------------------------------------------------------- 2. vs Alertmanager


async def versus_alertmanager(tmp: Path, slack: SlackChild, count: int = 40) -> dict[str, Any]:
    daemon_port = free_port()
    receivers = [
        {
            "name": "direct",
            "slack_configs": [
                {"api_url": slack.webhook_url, "channel": "#direct", "send_resolved": False}
            ],
        },
        {
            "name": "daemon",
            "webhook_configs": [
                {
                    "url": f"http://127.0.0.1:{daemon_port}/alertmanager",
                    "send_resolved": False,
                    "http_config": {"authorization": {"type": "Bearer", "credentials": TOKEN}},
                }
            ],
        },
    ]
    route = {
        "receiver": "direct",
        "group_wait": "10ms",
        "routes": [
            {"receiver": "direct", "continue": True, "matchers": ['bench="yes"']},
            {"receiver": "daemon", "matchers": ['bench="yes"']},
        ],
    }
    am = Alertmanager(tmp / "am", receivers, **route)
    daemon_tmp = tmp / "daemon2"
    daemon_tmp.mkdir()
    proc, _ = start_daemon(daemon_tmp, slack, am.url, daemon_port)
    try:
        fired: dict[str, float] = {}
        async with aiohttp.ClientSession() as session:
            for i in range(count):
                name = f"BenchAM{i:06d}"
                alert = [
                    {
                        "labels": {"alertname": name, "bench": "yes"},
                        "startsAt": rfc3339(time.time()),
                    }
                ]
                fired[name] = time.time()
                async with session.post(f"{am.url}/api/v2/alerts", json=alert) as r:
                    await r.read()
                await asyncio.sleep(1.1)  # under Slack's 1 post/s per channel
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            seen = await asyncio.to_thread(slack.first_seen)
            both = [n for n in fired if f"webhook:{n}" in seen and f"chat.postMessage:{n}" in seen]
            if len(both) == count:
                break
            await asyncio.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(30)
        am.stop()
    direct = [seen[f"webhook:{n}"][1] - fired[n] for n in both]
    via = [seen[f"chat.postMessage:{n}"][1] - fired[n] for n in both]
    extra = [seen[f"chat.postMessage:{n}"][1] - seen[f"webhook:{n}"][1] for n in both]
    return {
        "alerts": len(both),
        "direct_p50_ms": pct(direct, 0.5) * 1000,
        "direct_p99_ms": pct(direct, 0.99) * 1000,
        "daemon_p50_ms": pct(via, 0.5) * 1000,
        "daemon_p99_ms": pct(via, 0.99) * 1000,
        "extra_p50_ms": pct(extra, 0.5) * 1000,
        "extra_p99_ms": pct(extra, 0.99) * 1000,
        "p99_difference_ms": (pct(via, 0.99) - pct(direct, 0.99)) * 1000,
    }


# ---------------------------------------------------------------------- main


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sre-bench-alerts-") as name, SlackChild() as slack:
        tmp = Path(name)
        (tmp / "d1").mkdir()
        proc, url = start_daemon(tmp / "d1", slack, None)
        try:
            steps = asyncio.run(ingest(url))
        finally:
            proc.terminate()
            proc.wait(30)
        versus = asyncio.run(versus_alertmanager(tmp, slack))
    print(
        "1. ingest: POST /alertmanager, one alert per webhook, open loop, "
        f"{STEP_SECONDS:.0f}s per step"
    )
    print(f"{'target/s':>9} {'achieved/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    sustained = None
    for s in steps:
        print(
            f"{s['rate']:>9} {s['achieved']:>11.0f} {s['p50_ms']:>8.2f} {s['p99_ms']:>8.2f} "
            f"{s['errors']:>7}"
        )
        # Sustained = kept up with the offered rate, without errors, within the p99 budget.
        kept_up = s["errors"] == 0 and s["achieved"] >= 0.95 * s["rate"]
        if kept_up and s["p99_ms"] < TARGETS["p99_response_ms"]:
            sustained = s
    if sustained:
        ok = (
            sustained["rate"] >= TARGETS["rate"]
            and sustained["p99_ms"] < TARGETS["p99_response_ms"]
        )
        print(
            f"sustained: {sustained['achieved']:.0f} webhooks/s with p99 response "
            f"{sustained['p99_ms']:.1f} ms (target >= {TARGETS['rate']}/s, p99 < "
            f"{TARGETS['p99_response_ms']:.0f} ms: {'met' if ok else 'NOT met'})"
        )
    print("\n2. Alertmanager -> Slack, per alert from the API call to Slack receiving it")
    print(f"   alerts measured: {versus['alerts']}")
    print(
        f"   direct (slack_configs):       p50 {versus['direct_p50_ms']:.1f} ms, "
        f"p99 {versus['direct_p99_ms']:.1f} ms"
    )
    print(
        f"   via the daemon (webhook):     p50 {versus['daemon_p50_ms']:.1f} ms, "
        f"p99 {versus['daemon_p99_ms']:.1f} ms"
    )
    ok = versus["extra_p99_ms"] < TARGETS["extra_p99_ms"]
    print(
        f"   extra latency of the daemon path: p50 {versus['extra_p50_ms']:.1f} ms, "
        f"p99 {versus['extra_p99_ms']:.1f} ms (target < {TARGETS['extra_p99_ms']:.0f} ms: "
        f"{'met' if ok else 'NOT met'}); p99 difference {versus['p99_difference_ms']:.1f} ms"
    )
    print(f"\n(run time {time.monotonic() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
