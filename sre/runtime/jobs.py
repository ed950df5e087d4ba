"""The wrapper every scheduled job runs in: it times, counts and contains failures.

A job is an ``async def`` taking no arguments (bind what it needs with a closure or
``functools.partial``). :meth:`JobRunner.wrap` returns the coroutine function APScheduler
runs: an exception is logged and counted as ``outcome="failure"`` and never reaches the
scheduler, so one broken job cannot stop the daemon. Misfires come from APScheduler's
``EVENT_JOB_MISSED`` (see :meth:`JobRunner.attach`). Runs in flight are tracked so the
daemon can wait for them, bounded, at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sre.runtime.metrics import CoreMetrics

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]
Clock = Callable[[], float]

SUCCESS, FAILURE, MISSED = "success", "failure", "missed"


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job a feature contributes.

    ``trigger`` is an APScheduler trigger (``IntervalTrigger``, ``CronTrigger``...). Ids are
    dotted: ``<area>.<what>`` (``cost.daily``, ``alerts.reconcile``).
    """

    id: str
    func: Job
    trigger: Any
    run_at_start: bool = False  # also run once right after start
    # False: every replica runs it (a read-only job, e.g. one that refreshes a gauge from
    # the shared store); True: only the HA leader does.
    leader_only: bool = True
    kwargs: dict[str, Any] = field(default_factory=dict)  # extra add_job arguments


class JobRunner:
    """``leading``: scheduled jobs run only while it answers True (the HA leader; every
    replica keeps the same schedule, the others skip their turn without counting it)."""

    def __init__(
        self,
        metrics: CoreMetrics,
        clock: Clock = time.time,
        *,
        leading: Callable[[], bool] | None = None,
    ) -> None:
        self.metrics = metrics
        self.clock = clock
        self.leading = leading
        self._running: set[asyncio.Task[Any]] = set()

    def declare(self, job_id: str) -> None:
        """Export ``job_id``'s run counters at 0 before its first run, so that ``increase()``
        in the alert rules sees the very first failure (a series born at 1 shows no increase)."""
        for outcome in (SUCCESS, FAILURE, MISSED):
            self.metrics.job_runs.labels(job=job_id, outcome=outcome)

    def wrap(
        self, job_id: str, func: Job, *, leader_only: bool = True
    ) -> Callable[[], Awaitable[None]]:
        self.declare(job_id)

        async def run() -> None:
            if leader_only and self.leading is not None and not self.leading():
                log.debug("job %s skipped: another replica leads", job_id)
                return
            task = asyncio.current_task()
            if task is not None:
                self._running.add(task)
            try:
                await self.run(job_id, func)
            finally:
                if task is not None:
                    self._running.discard(task)

        run.__name__ = run.__qualname__ = f"job:{job_id}"
        return run

    async def run(self, job_id: str, func: Job) -> bool:
        """Run ``func`` once, recording its outcome; True on success."""
        started = time.perf_counter()
        try:
            await func()
        except asyncio.CancelledError:
            self.record(job_id, FAILURE, time.perf_counter() - started)
            log.warning("job %s cancelled (shutdown)", job_id)
            raise
        except Exception:
            self.record(job_id, FAILURE, time.perf_counter() - started)
            log.exception("job %s failed", job_id)
            return False
        self.record(job_id, SUCCESS, time.perf_counter() - started)
        return True

    def record(self, job_id: str, outcome: str, duration: float | None = None) -> None:
        self.metrics.job_runs.labels(job=job_id, outcome=outcome).inc()
        if duration is not None:
            self.metrics.job_duration.labels(job=job_id).observe(duration)
        if outcome == SUCCESS:
            self.metrics.job_last_success.labels(job=job_id).set(self.clock())

    def attach(self, scheduler: Any) -> None:
        """Count APScheduler's misfires (a run skipped beyond ``misfire_grace_time``)."""
        from apscheduler.events import EVENT_JOB_MISSED

        def missed(event: Any) -> None:
            if self.leading is not None and not self.leading():
                return  # a follower would have skipped it anyway
            log.warning("job %s missed its run at %s", event.job_id, event.scheduled_run_time)
            self.record(event.job_id, MISSED)

        scheduler.add_listener(missed, EVENT_JOB_MISSED)

    def run_now(self, scheduler: Any, job_ids: Iterable[str]) -> list[str]:
        """Move the scheduled jobs ``job_ids`` to run now; the ids moved. When a replica
        starts leading, the leader-only jobs that run at start (the cost and backup checks)
        run at once: the gauges only the leader exports are then fresh, not a day old."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        moved = []
        for job_id in job_ids:
            job = scheduler.get_job(job_id)
            if job is not None:
                job.modify(next_run_time=now)
                moved.append(job_id)
        return moved

    @property
    def running(self) -> int:
        return len(self._running)

    async def drain(self, timeout: float) -> int:
        """Wait up to ``timeout`` s for running jobs, then cancel the rest; returns how many
        were cancelled."""
        pending = {t for t in self._running if not t.done()}
        if not pending:
            return 0
        log.info("waiting up to %.0fs for %d running job(s)", timeout, len(pending))
        _, still = await asyncio.wait(pending, timeout=timeout)
        for task in still:
            task.cancel()
        if still:
            await asyncio.wait(still, timeout=1.0)
        return len(still)
