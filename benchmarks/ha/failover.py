"""Failover: the leader is stopped (SIGSTOP); how long until the new leader's first side
effect, a Slack post of an alert sent to another replica right after the stop.

Three real daemon replicas on one PostgreSQL database, the local Slack server; after each
trial the old leader is resumed (it rejoins as a follower) and the next trial stops
whichever replica leads then.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

import aiohttp

from sre.devtools.fake_slack import FakeSlack
from tests.helpers.alertmanager import alert_json, webhook
from tests.helpers.ha import replica_config, send, start_replicas, the_leader, wait_until

LEASE, RENEW = "2s", "500ms"
LEASE_SECONDS = 2.0


def _post(url: str, name: str) -> None:
    body = webhook([alert_json(name, fingerprint=f"fp-{name}")], group_key=f"g-{name}")

    async def go() -> None:
        async with aiohttp.ClientSession() as session:
            await send([url], body, session=session)

    asyncio.run(go())


def _posted_at(slack: FakeSlack, name: str) -> float | None:
    for call in slack.posts():
        if name in str(call.body):
            return call.received_at
    return None


def measure(tmp: Path, state: str, trials: int = 5) -> list[float]:
    """Seconds from SIGSTOP to the new leader's first Slack post, per trial."""
    took = []
    with FakeSlack() as slack:
        configs = [
            replica_config(tmp, state, slack.base_url, lease=LEASE, renew=RENEW) for _ in range(3)
        ]
        replicas = start_replicas(tmp, configs, slack.token)
        try:
            for trial in range(trials):
                leader = the_leader(replicas)
                wait_until(
                    lambda: all(r.sample("sre_ha_replicas") == 3 for r in replicas), 15, "3 live"
                )
                follower = next(r for r in replicas if r is not leader)
                name = f"Failover{trial}"
                leader.pause()
                stopped = time.time()
                _post(follower.url("/alertmanager"), name)

                def posted_now(n: str = name) -> bool:
                    return _posted_at(slack, n) is not None

                wait_until(posted_now, 30, "the post")
                posted = _posted_at(slack, name)
                assert posted is not None
                took.append(posted - stopped)
                leader.resume()
        finally:
            for replica in replicas:
                replica.resume()
                replica.stop()
    return took


def report(tmp: Path, state: str) -> list[str]:
    took = measure(tmp, state)
    median = statistics.median(took)
    target = LEASE_SECONDS + 2.0
    runs = ", ".join(f"{t:.2f}" for t in took)
    return [
        f"   failover, leader SIGSTOP -> first Slack post by the new leader: median "
        f"{median:.2f} s over {len(took)} (target <= lease + 2 s = {target:.0f} s; "
        f"lease {LEASE}, renewed every {RENEW}); runs: {runs} s"
    ]
