"""Several real daemon processes on one PostgreSQL database (Debian's server on a loopback
port), the local Slack server, and a probe-target server: high availability end to end.

Leases are short (2 s, renewed every 0.5 s) so that a failover takes seconds.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sre.devtools.fake_slack import FakeSlack
from tests.helpers.alertmanager import alert_json, webhook
from tests.helpers.ha import (
    TOKEN,
    TargetServer,
    replica_config,
    send,
    slack_report,
    start_replicas,
    stop_all,
    the_leader,
    wait_until,
)
from tests.helpers.postgres import PostgresCluster
from tests.helpers.storm import group as storm_group

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

            # The health probe fails (whichever replica probes it): one rollback. Only
            # failures after the episode began count, and it begins at the first evaluation.
            wait_until(
                lambda: leader.sample("sre_rollback_evaluations_total", service="api") >= 1,
                10,
                "a first rollback evaluation",
            )
            targets.status["api"] = 500
            wait_until(record.exists, 20, "the rollback command")

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


def send_storm(urls: list[str], groups: int, seconds: float) -> None:
    """``groups`` webhooks spread over ``seconds``, group i to replica i % n first; a dead
    or refusing replica's share goes to the next one (as through a Service)."""

    async def go() -> None:
        start = time.monotonic()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:

            async def one(i: int) -> None:
                await asyncio.sleep(max(0.0, start + i * seconds / groups - time.monotonic()))
                body = storm_group(i, critical_every=20)[2]
                order = urls[i % len(urls) :] + urls[: i % len(urls)]
                await send(order, json.loads(body), session=session)

            await asyncio.gather(*(one(i) for i in range(groups)))

    asyncio.run(go())


def schema_versions(cluster: PostgresCluster, url: str) -> dict[str, int]:
    rows = cluster.psql("SELECT component, version FROM schema_versions", url.rsplit("/", 1)[1])
    return {c: int(v) for c, v in (line.split("|") for line in rows.splitlines())}


def test_replicas_start_together_and_a_killed_leader_loses_nothing(
    pg_cluster: PostgresCluster, tmp_path: Path
) -> None:
    state = pg_cluster.create_database("ha_kill")
    groups, probes = 120, 30
    with FakeSlack() as slack, TargetServer() as targets:
        checks = [
            {
                "name": f"t{i}",
                "service": "api",
                "url": targets.url(f"t{i}"),
                "interval": "500ms",
                "timeout": "400ms",
            }
            for i in range(probes)
        ]
        configs = [
            replica_config(
                tmp_path, state, slack.base_url, probes=checks, slack={"digest_after": "5s"}
            )
            for _ in range(3)
        ]
        replicas = start_replicas(tmp_path, configs, slack.token)  # migrating together
        try:
            assert schema_versions(pg_cluster, state) == {
                "core": 2,
                "ha": 1,
                "alerts": 2,
                "probes": 1,
                "deploys": 1,
            }
            leader = the_leader(replicas)
            wait_until(
                lambda: (
                    sum(r.sample("sre_probe_targets_owned") for r in replicas) == probes
                    and all(r.sample("sre_ha_replicas") == 3 for r in replicas)
                ),
                10,
                "every target owned once",
            )
            owned_by_leader = leader.sample("sre_probe_targets_owned")
            # Each target's probe metrics come from the one replica that probes it.
            wait_until(
                lambda: (
                    [len(r.series("sre_probe_success")) for r in replicas]
                    == [r.sample("sre_probe_targets_owned") for r in replicas]
                ),
                5,
                "probe series from their owners only",
            )
            urls = [r.url("/alertmanager") for r in replicas]
            killed_at: list[float] = []

            def kill_the_leader() -> None:
                time.sleep(1.5)
                leader.proc.kill()
                killed_at.append(time.time())

            killer = threading.Thread(target=kill_the_leader)
            killer.start()
            send_storm(urls, groups, 3.0)
            killer.join()
            rest = [r for r in replicas if r is not leader]
            the_leader(rest, timeout=LEASE + 5)

            names = [storm_group(i, critical_every=20)[0] for i in range(groups)]
            wait_until(
                lambda: not slack_report(slack, groups).missing(names), 60, "every group shown"
            )
            time.sleep(2)  # room for any duplicate to show
            report = slack_report(slack, groups)
            assert report.missing(names) == []
            assert report.duplicates() == []

            # The killed leader's probe targets moved within one lease, each then probed
            # at its next slot (an interval at most).
            assert owned_by_leader > 0
            assert sum(r.sample("sre_probe_targets_owned") for r in rest) == probes
            gaps = []
            for i in range(probes):
                after = [t for t in targets.probed(f"t{i}") if t > killed_at[0]]
                assert after, f"t{i} never probed after the kill"
                gaps.append(after[0] - killed_at[0])
            assert max(gaps) <= LEASE + 0.5 + 0.5, sorted(gaps)[-5:]
        finally:
            stop_all([r for r in replicas if r.proc.poll() is None])


def test_a_database_restart_is_503_then_nothing_is_lost(
    pg_cluster: PostgresCluster, tmp_path: Path
) -> None:
    state = pg_cluster.create_database("ha_restart")
    with FakeSlack() as slack:
        configs = [replica_config(tmp_path, state, slack.base_url) for _ in range(2)]
        replicas = start_replicas(tmp_path, configs, slack.token)
        try:
            the_leader(replicas)
            bodies = [json.loads(storm_group(i, critical_every=1000)[2]) for i in range(6)]
            headers = {"Authorization": f"Bearer {TOKEN}"}
            pg_cluster.pg_ctl("stop")
            try:
                answers = []
                for i, body in enumerate(bodies):
                    url = replicas[i % 2].url("/alertmanager")
                    answers.append(post_once(url, body, headers))
                assert answers == [503] * len(bodies)  # never 200-and-lost
                assert all(r.get("/readyz")[0] == 503 for r in replicas)
            finally:
                pg_cluster.pg_ctl("start")
            for replica in replicas:
                wait_until(lambda r=replica: r.get("/readyz")[0] == 200, 20, "reconnected")
            the_leader(replicas, timeout=LEASE + 5)
            send_storm([r.url("/alertmanager") for r in replicas], len(bodies), 0.5)
            names = [storm_group(i, critical_every=1000)[0] for i in range(len(bodies))]
            wait_until(lambda: not slack_report(slack, 6).missing(names), 30, "all posted")
            assert slack_report(slack, 6).duplicates() == []
        finally:
            stop_all(replicas)


def post_once(url: str, body: dict[str, Any], headers: dict[str, str]) -> int:
    """One attempt, its status (0: no answer)."""
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return 0
