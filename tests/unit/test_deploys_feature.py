"""The deploys feature in-process: events in through the event log, Slack through slack_sdk
against the local Slack server, annotations through the real Grafana client against the
local Grafana, a real SQLite store and a fake clock. Lost answers and a restart never post
or annotate twice."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from sre.clients.grafana import GrafanaClient
from sre.clients.slack import SlackClient
from sre.config import DeploysConfig, Duration, parse_config
from sre.devtools.fake_slack import FakeSlack, Message
from sre.features.deploys.feature import DeploysFeature
from sre.runtime.events import Event, EventLog, publish_to, silence
from sre.runtime.ha import LEADER, SOLO, Cluster, Fenced, Term
from sre.runtime.store import Store
from sre.runtime.store.sqlite import open_sqlite
from tests.helpers.cluster import StubCluster
from tests.helpers.fake_grafana import FakeGrafana

TOKEN = "glsa-deploys"
NOW = 1_795_713_200.0  # before the local Slack's message times: lost posts are found
SERVICES = parse_config(
    {
        "system": "t",
        "prometheus": {"url": "http://127.0.0.1:9"},
        "services": [
            {
                "name": "api",
                "namespace": "ns",
                "rollback": {
                    "target": {"kind": "deployment", "name": "api"},
                    "after_deploy": "10m",
                },
            }
        ],
    }
).services


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    tmp: Path
    slack: FakeSlack
    grafana: FakeGrafana
    clock: Clock
    store: Store
    registry: CollectorRegistry

    def run(
        self,
        body: Callable[[DeploysFeature, EventLog], Awaitable[None]],
        cluster: Cluster = SOLO,
    ) -> None:
        """``body`` with a fresh feature on the same store (as after a restart)."""

        async def go() -> None:
            async with aiohttp.ClientSession() as session:
                events = EventLog(self.store)
                self.registry = CollectorRegistry()
                feature = DeploysFeature(
                    DeploysConfig(channel="#deploys", watch=Duration.parse("5m")),
                    SERVICES,
                    channel_for=None,
                    poster=SlackClient(self.slack.token, self.slack.base_url),
                    grafana=GrafanaClient(self.grafana.url, TOKEN, session),
                    store=self.store,
                    events=events,
                    registry=self.registry,
                    clock=self.clock,
                    cluster=cluster,
                )
                await feature.poster.open()
                try:
                    await body(feature, events)
                finally:
                    await feature.poster.close()

        asyncio.run(go())

    def threads(self) -> list[Message]:
        return self.slack.top_level("#deploys")

    def metric(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = Clock()
    store = open_sqlite(tmp_path / "state.db", clock)
    with (
        FakeSlack(post_per_second=None, tier3_per_minute=None) as slack,
        FakeGrafana(TOKEN) as grafana,
    ):
        yield World(tmp_path, slack, grafana, clock, store, CollectorRegistry())
    store.close()


def deploy(revision: str, at: float) -> Event:
    data = {"revision": revision, "previous": str(int(revision) - 1), "deployed_at": at}
    return Event("deploy", f"deploy:api:{revision}", "api", at, data)


def verdict(revision: str, outcome: str, at: float) -> Event:
    data = {
        "revision": revision,
        "outcome": outcome,
        "reason": "ok",
        "line": f"error_rate {outcome}",
    }
    return Event("verdict", f"verdict:api:{revision}:{at}", "api", at, data)


def rollback(revision: str, phase: str, audit_id: int, at: float) -> Event:
    data = {
        "service": "api",
        "phase": phase,
        "action": "rollback",
        "revision": revision,
        "previous": str(int(revision) - 1),
        "trigger": "error_rate",
        "reason": "every sample above 0.05",
        "summary": "error_rate fail: every sample above 0.05 (max 0.2, threshold 0.05)",
        "result": "success",
        "revision_after": str(int(revision) + 1),
        "audit_id": audit_id,
    }
    return Event("rollback", f"rollback:{audit_id}", "api", at, data)


async def passes(feature: DeploysFeature, n: int = 1) -> None:
    for _ in range(n):
        await feature.run_once()


def test_one_thread_per_revision_updated_to_verified_or_rolled_back(world: World) -> None:
    clock = world.clock

    async def body(feature: DeploysFeature, events: EventLog) -> None:
        await events.publish(deploy("5", NOW))
        await events.publish(deploy("5", NOW))  # published twice: one key, one thread
        await passes(feature)
        await events.publish(verdict("5", "pass", NOW + 30))
        clock.now = NOW + 299
        await passes(feature)
        assert world.threads()[0].text == ":rocket: api revision 5: rolling out"
        clock.now = NOW + 300  # the watch window is over
        await passes(feature)
        await events.publish(deploy("6", NOW + 400))
        await events.publish(verdict("6", "fail", NOW + 430))
        await events.publish(rollback("6", "decision", 1, NOW + 431))
        await events.publish(rollback("6", "result", 2, NOW + 450))
        clock.now = NOW + 460
        await passes(feature)
        clock.now = NOW + 800  # 6 is settled already: its window's end changes nothing
        await passes(feature)

    world.run(body)
    five, six = world.threads()
    assert five.text == ":white_check_mark: api revision 5: verified"
    assert [r["text"] for r in five.thread_replies] == [
        "Every trigger passed at the end of the watch: error_rate pass"
    ]
    assert six.text == ":leftwards_arrow_with_hook: api revision 6: rolled back"
    assert [r["text"] for r in six.thread_replies] == [
        "Rolling back to revision 5: error_rate fail: every sample above 0.05 (max 0.2, "
        "threshold 0.05)",
        "Rolled back to revision 7 (trigger error_rate: every sample above 0.05).",
    ]
    assert len(six.updates) == 2  # rolling back, then rolled back
    tags = sorted(tuple(a["tags"]) for a in world.grafana.annotations.values())
    assert tags == [("deploy", "api"), ("deploy", "api"), ("rollback", "api")]
    assert world.metric("sre_deploys_total", service="api", outcome="verified") == 1
    assert world.metric("sre_deploys_total", service="api", outcome="rolled_back") == 1
    assert world.metric("sre_deploys_pending") == 0


def test_lost_answers_and_a_restart_never_post_or_annotate_twice(world: World) -> None:
    clock = world.clock
    world.slack.drop_next(1)  # the parent is posted, its answer lost
    world.grafana.lose_next(1, path="/api/annotations")  # the annotation too

    async def first(feature: DeploysFeature, events: EventLog) -> None:
        await events.publish(deploy("8", NOW))
        await passes(feature)
        for method in ("GET", "POST"):  # then Grafana goes down
            world.grafana.fail_next(100, 503, method=method, path="/api/annotations")
        await publish_to(
            world.store,
            silence(
                {"alertname": "HighErrorRate", "service": "api"},
                silence_id="s-1",
                created_by="alice",
                starts_at=NOW,
                ends_at=NOW + 3600,
                comment="Silenced 1h from Slack: HighErrorRate",
            ),
        )
        clock.now += 5  # after the backoff
        await passes(feature, 2)

    world.run(first)
    assert len(world.threads()) == 1  # found in Slack, not posted again
    assert len(world.grafana.annotations) == 1  # the lost one; the silence waits
    assert world.metric("sre_deploys_deliveries_total", target="grafana", result="retry") == 3

    # "Restart": a new feature on the same store, Grafana back.
    world.grafana.faults.clear()

    async def second(feature: DeploysFeature, events: EventLog) -> None:
        for _ in range(4):
            clock.now += 600
            await passes(feature)

    world.run(second)
    texts = sorted(a["text"] for a in world.grafana.annotations.values())
    assert texts == [
        "Silenced by alice: Silenced 1h from Slack: HighErrorRate "
        "(alertname=HighErrorRate, service=api)",
        "api revision 8 deployed (previous 7)",
    ]
    assert world.metric("sre_annotations_total", kind="deploy", result="adopted") == 1
    assert world.metric("sre_annotations_total", kind="silence", result="created") == 1
    assert len(world.threads()) == 1
    assert world.threads()[0].text == ":grey_question: api revision 8: no verdict"
    assert world.metric("sre_deploys_pending") == 0


# --------------------------------------------------------------------------- replicas


class Lease:
    """Owns the test's leader terms: ``held`` False is a lease another replica took."""

    def __init__(self) -> None:
        self.held = True
        self.refused_actions: list[str] = []

    def alive(self, term: Term) -> bool:
        return self.held

    def holds(self, tx: object, term: Term) -> bool:
        return self.held

    def refused(self, term: Term, action: str) -> None:
        self.refused_actions.append(action)


def replica(lease: Lease, epoch: int = 1) -> tuple[StubCluster, Term]:
    """A replica on a shared store, and its term: it leads while ``lease`` is held."""
    term = Term(LEADER, epoch, lease)
    return StubCluster(term), term


def test_a_leader_whose_term_ended_consumes_posts_and_annotates_nothing(world: World) -> None:
    old_lease, new_lease = Lease(), Lease()
    (old, old_term), (new, new_term) = replica(old_lease), replica(new_lease, epoch=2)

    async def paused_leader(feature: DeploysFeature, events: EventLog) -> None:
        feature._follow(old_term)  # what its loop does each pass
        await events.publish(deploy("5", NOW))
        await passes(feature)
        await events.publish(deploy("6", NOW + 40))
        await feature.consume()  # the post of 6 queued under the live term
        old_lease.held = False  # paused past its lease: another replica leads now
        with pytest.raises(Fenced):
            await feature.delivery.run_once()  # the post's claim (its sending mark) refused
        await events.publish(verdict("6", "fail", NOW + 50))
        with pytest.raises(Fenced):
            await feature.consume()  # nothing saved: the event stays for the successor
        assert [i.payload["kind"] for i in await feature.unfenced.events()] == ["verdict"]

    world.run(paused_leader, cluster=old)
    assert [m.text for m in world.threads()] == [":rocket: api revision 5: rolling out"]
    assert old_lease.refused_actions == ["slack_post", "outbox"]
    annotations = len(world.grafana.annotations)

    async def successor(feature: DeploysFeature, events: EventLog) -> None:
        feature._follow(new_term)
        await passes(feature, 2)

    world.run(successor, cluster=new)
    assert [m.text for m in world.threads()] == [  # 6 posted once, 5 updated by the successor
        ":fast_forward: api revision 5: superseded",
        ":rocket: api revision 6: rolling out",
    ]
    assert len(world.grafana.annotations) == annotations + 1  # 6's, once
    assert new_lease.refused_actions == []


def test_a_follower_leaves_the_events_to_the_leader(world: World) -> None:
    lease = Lease()
    lease.held = False  # another replica holds the lease

    async def body(feature: DeploysFeature, events: EventLog) -> None:
        loop = asyncio.create_task(feature._run())  # what start() runs
        await events.publish(deploy("5", NOW))
        await asyncio.sleep(1.5)  # more than a pass's poll
        assert len(await feature.unfenced.events()) == 1
        lease.held = True  # this replica leads now: the next pass consumes and posts
        for _ in range(100):
            if world.threads():
                break
            await asyncio.sleep(0.05)
        feature._stopping = True
        feature.wake.set()
        await loop

    world.run(body, cluster=replica(lease)[0])
    assert [m.text for m in world.threads()] == [":rocket: api revision 5: rolling out"]
    assert lease.refused_actions == []
