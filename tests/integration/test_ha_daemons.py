"""Several real daemon processes on one PostgreSQL database (Debian's server on a loopback
port), the local Slack server, and a probe-target server: high availability end to end.

Leases are short (2 s, renewed every 0.5 s) so that a failover takes seconds.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sre.devtools.fake_slack import FakeSlack
from tests.helpers.alertmanager import alert_json, webhook
from tests.helpers.ha import (
    Replica,
    TargetServer,
    replica_config,
    send,
    start_replicas,
    the_leader,
    wait_until,
)
from tests.helpers.postgres import PostgresCluster

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

LEASE, RENEW = 2.0, 0.5


def group(name: str, severity: str = "warning") -> dict[str, Any]:
    alert = alert_json(name, severity=severity, service="api", fingerprint=f"fp-{name}")
    return webhook([alert], group_key=f'{{}}:{{alertname="{name}"}}')


def own_posts(slack: FakeSlack) -> Counter[str]:
    """Top-level messages per alert name (a name is in each group's message)."""
    counts: Counter[str] = Counter()
    for message in slack.top_level():
        for name in ("Same", "Second", "Third"):
            if name in message.text:
                counts[name] += 1
    return counts


def post_all(urls: list[str], body: dict[str, Any]) -> list[str]:
    async def go() -> list[str]:
        async with aiohttp.ClientSession() as session:
            answers = await asyncio.gather(*(send([u], body, session=session) for u in urls))
        return [text for _, text in answers]

    return asyncio.run(go())


def post_one(url: str, body: dict[str, Any]) -> str:
    return post_all([url], body)[0]


def stop_all(replicas: list[Replica]) -> None:
    for replica in replicas:
        if replica.proc.poll() is None:
            replica.resume()
            assert replica.stop(signal.SIGTERM) == 0, replica.output()


def test_a_paused_leader_is_replaced_and_refused_when_it_comes_back(
    pg_cluster: PostgresCluster, tmp_path: Path
) -> None:
    state = pg_cluster.create_database("ha_pause")
    record = tmp_path / "rollbacks"
    rollback = {
        "target": {
            "kind": "command",
            "argv": [sys.executable, "-c", f"open({str(record)!r}, 'a').write('ran\\n')"],
        },
        "error_rate_above": None,
        "health_failures": 2,
        "cooldown": "1h",
    }
    with FakeSlack() as slack, TargetServer() as targets:
        service = {
            "name": "api",
            "namespace": "ns",
            "health": {"url": targets.url("api"), "interval": "500ms", "timeout": "400ms"},
            "rollback": rollback,
        }
        configs = [
            replica_config(
                tmp_path,
                state,
                slack.base_url,
                services=[service],
                daemon={"rollbacks": {"interval": "1s"}},
            )
            for _ in range(3)
        ]
        replicas = start_replicas(tmp_path, configs, slack.token)
        try:
            urls = [r.url("/alertmanager") for r in replicas]
            leader = the_leader(replicas)
            wait_until(lambda: all(r.sample("sre_ha_replicas") == 3 for r in replicas), 5, "3 live")

            # The same webhook to every replica: stored once, posted once.
            answers = post_all(urls, group("Same", "critical"))
            assert sorted(answers) == ["duplicate", "duplicate", "queued"]
            wait_until(lambda: own_posts(slack)["Same"] == 1, 10, "the post")

            # The health probe fails (whichever replica probes it): one rollback.
            targets.status["api"] = 500
            wait_until(lambda: record.exists(), 20, "the rollback command")

            # The leader stops while Slack holds the answer to its next post.
            slack.delay_next(1, 2.5)
            follower = next(r for r in replicas if r is not leader)
            post_one(follower.url("/alertmanager"), group("Second"))
            wait_until(lambda: own_posts(slack)["Second"] == 1, 10, "the held post")
            leader.pause()
            paused_at = time.monotonic()
            rest = [r for r in replicas if r is not leader]
            new = the_leader(rest, timeout=LEASE + 5)
            took = time.monotonic() - paused_at
            assert took <= LEASE + 1.0, f"failover took {took:.2f}s"

            # The new leader carries on: the held item is found in Slack (not posted
            # again), new alerts are posted, rollbacks are evaluated.
            wait_until(lambda: new.sample("sre_slack_recovered_posts_total") >= 1, 10, "adopted")
            post_one(follower.url("/alertmanager"), group("Third"))
            wait_until(lambda: own_posts(slack)["Third"] == 1, 10, "a new alert posted")
            evaluated = new.sample("sre_rollback_evaluations_total", service="api")
            wait_until(
                lambda: new.sample("sre_rollback_evaluations_total", service="api") > evaluated,
                5,
                "a rollback evaluation on the new leader",
            )

            # The old leader comes back: what it still had in hand is refused, counted.
            leader.resume()
            wait_until(lambda: leader.sample("sre_ha_fenced_actions_total") >= 1, 10, "fenced")
            wait_until(lambda: not leader.leads(), 5, "the old leader follows")
            time.sleep(1.5)  # room for any duplicate to show
            assert own_posts(slack) == {"Same": 1, "Second": 1, "Third": 1}
            assert record.read_text().splitlines() == ["ran"]
            assert leader.sample("sre_ha_fenced_actions_total", action="outbox") >= 1
            assert "refused" in leader.output()
            assert [r.leads() for r in replicas].count(True) == 1
        finally:
            stop_all(replicas)
