"""The probe engine: one asyncio loop per distinct interval, not one job per target.

Each target gets a stable offset inside its interval (``start_offset``, hash-based), so
10,000 targets at 15 s start ~667 per second, evenly, and keep their slot over restarts.
Slots are absolute (``k * interval + offset`` on the clock), so a slow round never drifts
the schedule: a late probe is late, the next one is on time again. One semaphore
(``daemon.probe_concurrency``) bounds the probes in flight across all engines; when it is
full the dispatcher waits, which shows up as lateness, not as unbounded memory.

A round (every target of one interval, once) that finishes sets
``sre_probe_engine_heartbeat_timestamp_seconds{interval}`` and counts as a run of the job
``probes.<interval>`` in ``sre_job_runs_total``. A round that falls more than a whole
interval behind is skipped ahead and counted as ``missed``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import replace

from prometheus_client import Gauge

from sre.checks.probe import (
    OTHER,
    Observation,
    ProbeState,
    Verdict,
    advance,
    classify,
)
from sre.clients.probe import Prober
from sre.config.durations import Duration
from sre.features.probes.state import Target
from sre.runtime.jobs import FAILURE, MISSED, SUCCESS, JobRunner

log = logging.getLogger(__name__)

Clock = Callable[[], float]
StartHook = Callable[[float, float], None]  # (scheduled, actual) epoch seconds
RecordHook = Callable[[Target, ProbeState], None]  # (target, its state before this probe)


class _Round:
    __slots__ = ("base", "dispatched", "outstanding", "started")

    def __init__(self, base: float, started: float) -> None:
        self.base = base
        self.started = started
        self.outstanding = 0
        self.dispatched = False


class ProbeEngine:
    """All targets that share one interval."""

    def __init__(
        self,
        interval: Duration,
        targets: list[Target],
        prober: Prober,
        semaphore: asyncio.Semaphore,
        *,
        runner: JobRunner,
        heartbeat: Gauge,
        clock: Clock,
        on_start: StartHook | None = None,
        on_record: RecordHook | None = None,
        active: Callable[[], bool] = lambda: True,
    ) -> None:
        self.on_record = on_record
        self.active = active  # False: probe nothing (this replica cannot tell who is live)
        self.interval = interval.seconds
        self.label = str(interval)
        self.job_id = f"probes.{self.label}"
        self.runner = runner
        self.heartbeat = heartbeat
        runner.declare(self.job_id)
        self.targets = sorted(targets, key=lambda t: t.offset)
        self.prober = prober
        self.semaphore = semaphore
        self.clock = clock
        self.on_start = on_start
        self._inflight: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._anchor = self.clock() - time.monotonic()

    def start(self) -> None:
        self._anchor = self.clock() - time.monotonic()
        self._loop_task = asyncio.create_task(self._run(), name=f"engine:{self.label}")

    def _steady(self) -> float:
        """Wall-clock time as at start, advanced by the monotonic clock: a step of the system
        clock (NTP, a VM resumed) can neither stall the schedule nor make it race."""
        return self._anchor + time.monotonic()

    async def stop(self, timeout: float) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        if self._inflight:
            _, still = await asyncio.wait(set(self._inflight), timeout=timeout)
            for task in still:
                task.cancel()
            if still:
                await asyncio.wait(still, timeout=1.0)

    async def _run(self) -> None:
        started = self._steady()
        k = math.floor(started / self.interval)
        while True:
            base = k * self.interval
            now = self._steady()
            if now > base + 2 * self.interval:  # fell a whole round behind: skip ahead
                log.warning(
                    "probe engine %s is %.1fs behind; skipping ahead", self.label, now - base
                )
                self.runner.record(self.job_id, MISSED)
                k = math.floor(now / self.interval)
                continue
            try:
                await self._dispatch(_Round(base, now), skip_before=started)
            except Exception:  # keep the engine alive; the round counts as failed
                log.exception("probe engine %s: round failed", self.label)
                self.runner.record(self.job_id, FAILURE, self._steady() - now)
            k += 1

    async def _dispatch(self, rnd: _Round, skip_before: float) -> None:
        loop = asyncio.get_running_loop()
        for target in self.targets:
            if not target.owned:  # another replica's share
                continue
            slot = rnd.base + target.offset
            if slot < skip_before:  # first round: slots already past wait for the next
                continue
            delay = slot - self._steady()
            if delay > 0.001:
                await asyncio.sleep(delay)
                if not target.owned:  # moved to another replica while this one waited
                    continue
            if not self.active():
                continue
            await self.semaphore.acquire()
            try:
                if self.on_start is not None:
                    self.on_start(slot, self._steady())
                task = loop.create_task(self._probe(target, rnd))
            except BaseException:
                self.semaphore.release()  # the probe never started: give its permit back
                raise
            rnd.outstanding += 1  # before the task first runs: no await since create_task
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
        if rnd.outstanding == 0 and not self._inflight:  # nothing of ours in this round
            await asyncio.sleep(max(0.0, rnd.base + self.interval - self._steady()))
        rnd.dispatched = True
        self._maybe_done(rnd)

    async def _probe(self, target: Target, rnd: _Round) -> None:
        try:
            seen = await self.prober.probe(target.request)
            verdict = classify(target.probe, seen)
        except Exception:  # a bug in a probe must not kill the engine
            log.exception("probe %s/%s crashed", target.state.service, target.state.target)
            seen, verdict = Observation(duration=0.0, error=OTHER), Verdict(False, OTHER)
        finally:
            self.semaphore.release()
        self._record(target, seen, verdict)
        rnd.outstanding -= 1
        self._maybe_done(rnd)

    def _record(self, target: Target, seen: Observation, verdict: Verdict) -> None:
        previous = target.state
        before = previous.up
        target.state = advance(previous, verdict, self.clock())
        if self.on_record is not None:
            self.on_record(target, previous)
        # Keep what the metrics need, not the body: up to 1 MiB per target would add up.
        target.last = replace(seen, body=b"") if seen.body else seen
        if verdict.reason is not None:
            target.failures[verdict.reason] = target.failures.get(verdict.reason, 0) + 1
        if before is not target.state.up:
            log.info(
                "probe %s/%s is %s%s",
                target.state.service,
                target.state.target,
                "up" if verdict.success else "down",
                f" ({verdict.reason})" if verdict.reason else "",
            )

    def _maybe_done(self, rnd: _Round) -> None:
        if rnd.dispatched and rnd.outstanding == 0:
            # The heartbeat is wall-clock time (rules compare it with time()); the round's
            # duration is measured on the steady clock.
            self.heartbeat.labels(interval=self.label).set(self.clock())
            self.runner.record(self.job_id, SUCCESS, self._steady() - rnd.started)
