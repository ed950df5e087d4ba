"""The dead man's switch on several replicas: any replica records a heartbeat and exports
the shared status; only the leader declares an outage and pages."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from sre.devtools.fake_pagerduty import FakePagerDuty
from tests.helpers.bench import FixedClock
from tests.helpers.cluster import StubCluster
from tests.unit.test_heartbeat_feature import NOW, PD_KEY, SILENCE, running, synchronously


@pytest.fixture
def pd() -> Iterator[FakePagerDuty]:
    with FakePagerDuty(routing_keys=(PD_KEY,)) as server:
        yield server


@synchronously
async def test_a_follower_records_and_exports_and_only_the_leader_declares_and_pages(
    tmp_path: Path, pd: FakePagerDuty
) -> None:
    clock = FixedClock(NOW)
    async with (
        running(tmp_path, clock, pd) as leader,
        running(tmp_path, clock, pd, cluster=StubCluster(None)) as follower,
    ):
        assert [j.leader_only for j in follower.feature.jobs()] == [False]
        status, _ = await follower.beat()  # Alertmanager's heartbeat reached the follower
        assert status == 200
        clock.now += SILENCE + 1
        await follower.feature.check()
        assert leader.notices() == [] and pd.events == []
        await leader.feature.check()
        assert [n["key"] for n in leader.notices()] == ["heartbeat.missing:1"]
        assert [e.action for e in pd.accepted()] == ["trigger"]
        assert follower.sample("sre_heartbeat_missing") == 0
        await follower.feature.check()  # exports the shared status
        assert follower.sample("sre_heartbeat_missing") == 1
        await follower.beat()  # back: the follower queues the resolve, the leader sends it
        await asyncio.sleep(0.3)
        assert [e.action for e in pd.accepted()] == ["trigger"]
        await leader.feature.check()
        pd.wait_for(lambda s: [e.action for e in s.accepted()] == ["trigger", "resolve"])
        assert leader.sample("sre_heartbeat_missing") == 0
