"""The lease, the heartbeat and fencing (``sre.runtime.ha``), with several replicas in one
process on one PostgreSQL database (Debian's server), each with its own connections.

Short leases (0.9 s, renewed every 0.3 s) keep this quick; a "paused" replica is one
whose heartbeat task is cancelled while its clock runs on, as after SIGSTOP.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from prometheus_client import CollectorRegistry

from sre.config import Duration, HaConfig
from sre.runtime.ha import Fenced, ReplicatedCluster
from sre.runtime.ha.metrics import HaMetrics
from sre.runtime.store.postgres import open_postgres
from sre.runtime.store.sql import SqlStore
from tests.helpers.postgres import PostgresCluster

pytestmark = pytest.mark.integration

HA = HaConfig(lease_duration=Duration.of(seconds=0.9), renew_interval=Duration.of(seconds=0.3))


class Replica:
    def __init__(self, url: str, name: str) -> None:
        self.store: SqlStore = open_postgres(url)
        self.registry = CollectorRegistry()
        self.cluster = ReplicatedCluster(self.store, HA, HaMetrics(self.registry), replica_id=name)

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0

    def pause(self) -> None:
        """As SIGSTOP would: no more beats; the clock runs on."""
        assert self.cluster._task is not None
        self.cluster._task.cancel()

    async def claim(self, action: str, term_of: Callable[[], object]) -> None:
        term = term_of()

        def work() -> None:
            with self.store.transaction() as tx:
                term.check(tx, action)  # type: ignore[attr-defined]

        await self.store.run(work)


@asynccontextmanager
async def replicas(url: str, count: int) -> AsyncIterator[list[Replica]]:
    started = [Replica(url, f"r{i}") for i in range(count)]
    await asyncio.gather(*(r.cluster.start() for r in started))
    try:
        yield started
    finally:
        for r in started:
            await r.cluster.stop()
            r.store.close()


async def wait_for(predicate: Callable[[], bool], timeout: float) -> float:
    began = time.monotonic()
    while not predicate():
        if time.monotonic() - began > timeout:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
    return time.monotonic() - began


def leaders(group: list[Replica]) -> list[Replica]:
    return [r for r in group if r.cluster.leading() is not None]


@pytest.fixture
def url(pg_cluster: PostgresCluster) -> str:
    return pg_cluster.create_database("ha")


def test_one_leader_every_replica_live_and_a_clean_handover(url: str) -> None:
    async def scenario() -> None:
        async with replicas(url, 3) as group:
            await wait_for(lambda: all(len(r.cluster.live()) == 3 for r in group), 3)
            (leader,) = leaders(group)
            assert [r.metric("sre_ha_leader") for r in group].count(1.0) == 1
            assert all(r.metric("sre_ha_replicas") == 3 for r in group)
            assert leader.metric("sre_ha_lease_transitions_total", transition="acquired") == 1
            await leader.cluster.stop()  # hands the lease back: no lease-long wait
            rest = [r for r in group if r is not leader]
            took = await wait_for(lambda: len(leaders(rest)) == 1, 3)
            assert took < HA.renew_interval.seconds + 0.3
            await wait_for(lambda: all(len(r.cluster.live()) == 2 for r in rest), 3)

    asyncio.run(scenario())


def test_a_paused_leader_is_replaced_and_fenced(url: str) -> None:
    async def scenario() -> None:
        async with replicas(url, 3) as group:
            (old,) = await _one_leader(group)
            term = old.cluster.leading()
            assert term is not None
            await old.claim("rollback", lambda: term)  # holds while it leads
            paused_at = time.monotonic()
            old.pause()
            rest = [r for r in group if r is not old]
            await wait_for(lambda: len(leaders(rest)) == 1, 3)
            took = time.monotonic() - paused_at
            assert took <= HA.lease_duration.seconds + HA.renew_interval.seconds + 0.3
            (new,) = leaders(rest)
            assert new.cluster.leading().number > term.number  # type: ignore[union-attr]
            # The old leader's work, whatever it was doing, is refused and counted.
            assert not term.alive()
            with pytest.raises(Fenced):
                term.guard("slack_post")
            with pytest.raises(Fenced):
                await old.claim("rollback", lambda: term)
            assert old.metric("sre_ha_fenced_actions_total", action="rollback") == 1
            assert old.metric("sre_ha_fenced_actions_total", action="slack_post") == 1
            assert old.metric("sre_ha_leader") == 0
            await wait_for(lambda: all(len(r.cluster.live()) == 2 for r in rest), 3)

    asyncio.run(scenario())


def test_the_database_fences_even_when_the_local_clock_is_wrong(url: str) -> None:
    """A replica whose clock says its lease is still good (a clock that stood still)
    is refused by the database once another replica holds the lease."""

    async def scenario() -> None:
        async with replicas(url, 2) as group:
            (old,) = await _one_leader(group)
            term = old.cluster.leading()
            assert term is not None
            frozen = old.cluster.monotonic()
            old.cluster.monotonic = lambda: frozen  # its deadline never passes
            old.pause()
            (other,) = [r for r in group if r is not old]
            await wait_for(lambda: other.cluster.leading() is not None, 3)
            assert term.alive()  # by its own clock
            with pytest.raises(Fenced):
                await old.claim("silence", lambda: term)
            assert old.metric("sre_ha_fenced_actions_total", action="silence") == 1

    asyncio.run(scenario())


def test_a_replica_back_after_expiry_gets_a_new_membership(url: str) -> None:
    async def scenario() -> None:
        async with replicas(url, 2) as group:
            await wait_for(lambda: all(len(r.cluster.live()) == 2 for r in group), 3)
            await _one_leader(group)
            follower = next(r for r in group if r.cluster.leading() is None)
            before = follower.cluster.member()
            await follower.claim("silence", lambda: before)
            follower.pause()
            leader = next(r for r in group if r is not follower)
            await wait_for(lambda: len(leader.cluster.live()) == 1, 3)
            assert not follower.cluster.fresh()
            await follower.cluster.beat_once()  # it comes back
            after = follower.cluster.member()
            assert after.number == before.number + 1 and follower.cluster.fresh()
            await follower.claim("silence", lambda: after)
            with pytest.raises(Fenced):
                await follower.claim("silence", lambda: before)

    asyncio.run(scenario())


async def _one_leader(group: list[Replica]) -> list[Replica]:
    await wait_for(lambda: len(leaders(group)) == 1, 3)
    return leaders(group)
