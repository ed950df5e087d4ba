"""The job runner: outcomes counted, failures contained, misfires seen, bounded drain."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from prometheus_client import CollectorRegistry

from sre.runtime.jobs import JobRunner
from sre.runtime.metrics import CoreMetrics


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


@pytest.fixture
def setup() -> tuple[CollectorRegistry, JobRunner]:
    registry = CollectorRegistry()
    return registry, JobRunner(CoreMetrics(registry, "v", "sha"), clock=lambda: 1234.0)


def test_success_and_failure_are_counted(
    setup: tuple[CollectorRegistry, JobRunner], caplog: pytest.LogCaptureFixture
) -> None:
    registry, runner = setup

    async def ok() -> None:
        await asyncio.sleep(0)

    async def broken() -> None:
        raise RuntimeError("boom")

    async def go() -> None:
        assert await runner.run("cost.daily", ok) is True
        assert await runner.run("backups.verify", broken) is False  # contained, not raised
        assert await runner.run("backups.verify", broken) is False

    asyncio.run(go())
    assert value(registry, "sre_job_runs_total", job="cost.daily", outcome="success") == 1
    assert value(registry, "sre_job_runs_total", job="backups.verify", outcome="failure") == 2
    assert value(registry, "sre_job_last_success_timestamp_seconds", job="cost.daily") == 1234.0
    assert value(registry, "sre_job_last_success_timestamp_seconds", job="backups.verify") is None
    assert value(registry, "sre_job_duration_seconds_count", job="backups.verify") == 2
    assert "job backups.verify failed" in caplog.text and "boom" in caplog.text


def test_scheduler_keeps_running_a_failing_job(setup: tuple[CollectorRegistry, JobRunner]) -> None:
    registry, runner = setup
    calls: list[int] = []

    async def flaky() -> None:
        calls.append(1)
        raise ValueError("always")

    async def go() -> None:
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(runner.wrap("flaky.job", flaky), "interval", seconds=0.1, id="flaky.job")
        scheduler.start()
        await asyncio.sleep(0.45)
        assert scheduler.running and scheduler.get_job("flaky.job") is not None
        scheduler.shutdown(wait=False)

    asyncio.run(go())
    assert len(calls) >= 3
    assert value(registry, "sre_job_runs_total", job="flaky.job", outcome="failure") == len(calls)


def test_misfires_are_counted_as_missed(setup: tuple[CollectorRegistry, JobRunner]) -> None:
    registry, runner = setup

    async def job() -> None:
        pass

    async def go() -> None:
        scheduler = AsyncIOScheduler(timezone=UTC)
        runner.attach(scheduler)
        late = datetime.now(UTC) - timedelta(seconds=30)
        scheduler.add_job(
            runner.wrap("late.job", job),
            "interval",
            hours=1,
            id="late.job",
            next_run_time=late,
            misfire_grace_time=1,
        )
        scheduler.start()
        await asyncio.sleep(0.2)
        scheduler.shutdown(wait=False)

    asyncio.run(go())
    assert value(registry, "sre_job_runs_total", job="late.job", outcome="missed") == 1
    assert value(registry, "sre_job_runs_total", job="late.job", outcome="success") == 0


def test_drain_waits_then_cancels(setup: tuple[CollectorRegistry, JobRunner]) -> None:
    registry, runner = setup
    finished: list[str] = []

    async def quick() -> None:
        await asyncio.sleep(0.05)
        finished.append("quick")

    async def stuck() -> None:
        await asyncio.sleep(60)
        finished.append("stuck")

    async def go() -> int:
        tasks = [
            asyncio.create_task(runner.wrap("a.quick", quick)()),
            asyncio.create_task(runner.wrap("a.stuck", stuck)()),
        ]
        await asyncio.sleep(0)
        assert runner.running == 2
        cancelled = await runner.drain(0.3)
        await asyncio.gather(*tasks, return_exceptions=True)
        return cancelled

    assert asyncio.run(go()) == 1
    assert finished == ["quick"]
    assert value(registry, "sre_job_runs_total", job="a.stuck", outcome="failure") == 1


def test_registered_jobs_export_their_counters_at_zero(
    setup: tuple[CollectorRegistry, JobRunner],
) -> None:
    # increase() in SREJobFailing cannot see a first failure on a series born at 1.
    registry, runner = setup

    async def ok() -> None:
        return None

    runner.wrap("cost.daily", ok)
    for outcome in ("success", "failure", "missed"):
        assert value(registry, "sre_job_runs_total", job="cost.daily", outcome=outcome) == 0.0


def test_scheduled_jobs_run_only_while_leading() -> None:
    """Several replicas keep the same schedule; only the leader's turn runs (and counts)."""
    registry = CollectorRegistry()
    leading = [False]
    runner = JobRunner(
        CoreMetrics(registry, "v", "sha"), clock=lambda: 1.0, leading=lambda: leading[0]
    )
    runs: list[int] = []

    async def job() -> None:
        runs.append(1)

    scheduled = runner.wrap("rollback.evaluate", job)

    async def go() -> None:
        await scheduled()
        assert runs == []
        assert (
            value(registry, "sre_job_runs_total", job="rollback.evaluate", outcome="success") == 0
        )
        leading[0] = True
        await scheduled()
        assert runs == [1]
        assert (
            value(registry, "sre_job_runs_total", job="rollback.evaluate", outcome="success") == 1
        )

    asyncio.run(go())


def test_a_job_for_every_replica_runs_on_followers_too() -> None:
    """``leader_only=False`` (a gauge refreshed from the shared store) runs on every replica."""
    registry = CollectorRegistry()
    runner = JobRunner(CoreMetrics(registry, "v", "sha"), clock=lambda: 1.0, leading=lambda: False)
    runs: list[str] = []

    async def job() -> None:
        runs.append("ran")

    everywhere = runner.wrap("heartbeat.check", job, leader_only=False)
    leader_only = runner.wrap("cost.daily", job)

    async def go() -> None:
        await everywhere()
        await leader_only()

    asyncio.run(go())
    assert runs == ["ran"]
    assert value(registry, "sre_job_runs_total", job="heartbeat.check", outcome="success") == 1


def test_jobs_that_run_at_start_run_again_when_a_replica_starts_leading() -> None:
    """A follower skipped cost.daily at its start; leading now, it runs it at once."""
    from datetime import UTC, datetime

    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    now = time.time()
    runner = JobRunner(CoreMetrics(CollectorRegistry(), "v", "sha"), clock=lambda: now)

    async def job() -> None:
        return None

    async def go() -> tuple[list[str], datetime, datetime]:
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(job, IntervalTrigger(days=1), id="cost.daily")
        scheduler.add_job(job, IntervalTrigger(days=1), id="deploys.prune")
        scheduler.start(paused=True)
        moved = runner.run_now(scheduler, ["cost.daily", "backups.verify.gone"])
        cost, prune = scheduler.get_job("cost.daily"), scheduler.get_job("deploys.prune")
        scheduler.shutdown(wait=False)
        return moved, cost.next_run_time, prune.next_run_time

    moved, cost_at, prune_at = asyncio.run(go())
    assert moved == ["cost.daily"]  # a job no longer scheduled is skipped
    assert cost_at == datetime.fromtimestamp(now, UTC)
    assert prune_at > cost_at
