"""Backup verification (the ``backups`` section): S3 / RDS -> ladder -> metrics -> notices.

Each backup gets a job ``backups.verify.<name>`` (every ``interval``, and once at start)
that climbs the ladder of ``sre.checks.backup``: freshness of the newest copy (newest
object under the S3 prefix, or newest *available* RDS snapshot, automated or manual: RDS's
automated daily snapshots are backups too), size against ``min_size_bytes`` and the median
of the earlier copies, integrity against every published SHA-256 (the object's S3
``ChecksumSHA256`` and a ``<key>.sha256`` sidecar: both are checked when both exist). A
backup with a ``restore_test`` also gets ``backups.restore.<name>`` on that schedule: the
newest dump is restored into a scratch database (``sre.clients.postgres``) and its check
queries are run.

History goes to the store (``state.py``); a change between healthy and failing is
announced once through the notifier (``notices.py``: ``backup.failed:<name>:<n>`` /
``backup.recovered:<name>:<n>``). The ladder itself is ``ladder.py``. An AWS error is
counted (``sre_aws_errors_total``) and logged. A source that is gone or refused (a
non-retryable ``not_found`` / ``auth`` error: NoSuchBucket, DBInstanceNotFound,
AccessDenied) fails freshness: no backup can be read. Any other error is a no-verdict that
leaves the last known state alone, except the age gauge, which is removed rather than left
frozen at an old value.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Sequence

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import CollectorRegistry

from sre.checks.backup import Verdict, failing, not_judged, transition
from sre.clients import ClientError
from sre.clients.aws import AwsClient
from sre.config import Backup
from sre.features.backups.ladder import Ladder, RestorerFactory, default_restorer, skipped
from sre.features.backups.metrics import BackupMetrics
from sre.features.backups.notices import transition_notice
from sre.features.backups.state import History
from sre.runtime.feature import Feature
from sre.runtime.jobs import JobSpec
from sre.runtime.notices import Notifier
from sre.runtime.store import Store

log = logging.getLogger(__name__)

# non-retryable ClientError reasons meaning the source is gone or refused to us
VANISHED = frozenset({"not_found", "auth"})


class BackupsFeature(Feature):
    name = "backups"

    def __init__(
        self,
        backups: Sequence[Backup],
        client: AwsClient,
        *,
        store: Store,
        notices: Notifier,
        registry: CollectorRegistry,
        clock: Callable[[], float],
        restorer: RestorerFactory = default_restorer,
    ) -> None:
        self.backups = list(backups)
        self.notices = notices
        self.clock = clock
        self.history = History(store)
        self.ladder = Ladder(client, self.history, restorer)
        self.metrics = BackupMetrics(registry)

    async def start(self) -> None:
        for backup in self.backups:  # survive restarts: the alert measures from this
            status = await self.history.status(backup.name)
            if status.last_success is not None:
                self.metrics.last_success.labels(backup=backup.name).set(status.last_success)
            for step, (outcome, _) in status.steps.items():
                self.metrics.set_step(backup.name, step, outcome)

    def jobs(self) -> Sequence[JobSpec]:
        specs = []
        for b in self.backups:
            verify: Callable[[], Awaitable[None]] = functools.partial(self._verify_job, b)
            specs.append(
                JobSpec(
                    f"backups.verify.{b.name}",
                    verify,
                    IntervalTrigger(seconds=max(1, round(b.interval.seconds))),
                    run_at_start=True,
                )
            )
            if b.restore_test is not None:
                restore: Callable[[], Awaitable[None]] = functools.partial(self._restore_job, b)
                trigger = CronTrigger.from_crontab(b.restore_test.schedule, timezone="UTC")
                specs.append(JobSpec(f"backups.restore.{b.name}", restore, trigger))
        return specs

    async def _verify_job(self, backup: Backup) -> None:
        await self.verify(backup)

    async def _restore_job(self, backup: Backup) -> None:
        await self.restore(backup)

    # ------------------------------------------------------------------ the ladder

    async def verify(self, backup: Backup) -> list[Verdict]:
        now = self.clock()
        source = f"s3://{backup.s3.bucket}/{backup.s3.prefix}" if backup.s3 else "rds"
        try:
            if backup.s3 is not None:
                verdicts, newest = await self.ladder.s3(backup, now)
            else:
                verdicts, newest = await self.ladder.rds(backup, now)
        except ClientError as err:  # counted by the client
            log.warning("backup %s: %s unavailable (%s): %s", backup.name, source, err.reason, err)
            self.metrics.forget_age(backup.name)
            if err.retryable or err.reason not in VANISHED:  # may pass later: state stays
                verdict = not_judged("freshness", f"source unavailable: {err.reason}")
                await self.history.add_runs(backup.name, now, [verdict])
                return [verdict]
            # gone or refused: no backup can be read, which is what freshness is about
            verdicts = [
                Verdict("freshness", "fail", f"source unavailable: {err.reason}"),
                *skipped(("size", "integrity"), "freshness"),
            ]
            await self.history.add_runs(backup.name, now, verdicts)
            await self._judge(backup, verdicts, now)
            return verdicts
        age = None if newest is None else max(0.0, now - newest.created_at)
        if newest is not None and age is not None:
            self.metrics.age.labels(backup=backup.name).set(age)
            if newest.size_bytes is not None:
                self.metrics.size.labels(backup=backup.name).set(newest.size_bytes)
        else:
            self.metrics.forget_age(backup.name)
        await self.history.add_runs(
            backup.name,
            now,
            verdicts,
            obj=newest.name if newest else None,
            size_bytes=newest.size_bytes if newest else None,
            age_seconds=age,
        )
        log.info(
            "backup %s: %s",
            backup.name,
            ", ".join(f"{v.step} {v.outcome} ({v.reason})" for v in verdicts),
        )
        await self._judge(backup, verdicts, now)
        return verdicts

    async def restore(self, backup: Backup) -> Verdict:
        test = backup.restore_test
        assert test is not None and backup.s3 is not None
        now = self.clock()
        try:
            verdict, result = await self.ladder.restore(backup, test, now)
        except ClientError as err:
            log.warning("backup %s: restore test skipped (%s): %s", backup.name, err.reason, err)
            verdict = not_judged("restore", f"backup unavailable: {err.reason}")
            await self.history.add_runs(backup.name, now, [verdict])
            return verdict
        duration = None
        if result is not None and result.restored and result.duration_seconds is not None:
            duration = result.duration_seconds
            self.metrics.restore_duration.labels(backup=backup.name).set(duration)
        log.info(
            "backup %s restore test: %s (%s)%s",
            backup.name,
            verdict.outcome,
            verdict.reason,
            "" if duration is None else f" in {duration:.1f}s",
        )
        await self.history.add_runs(backup.name, now, [verdict], duration_seconds=duration)
        await self._judge(backup, [verdict], now)
        return verdict

    # ------------------------------------------------------------------ state and notices

    async def _judge(self, backup: Backup, verdicts: Sequence[Verdict], now: float) -> None:
        status = await self.history.status(backup.name)
        for v in verdicts:
            status.steps[v.step] = [v.outcome, v.reason]
            self.metrics.set_step(backup.name, v.step, v.outcome)
        outcomes = {step: pair[0] for step, pair in status.steps.items()}
        now_failing = failing(outcomes)
        if not now_failing and outcomes.get("freshness") == "pass":
            status.last_success = now
            self.metrics.last_success.labels(backup=backup.name).set(now)
        change = transition(status.failing, now_failing)
        status.failing = now_failing
        if change is not None:
            status.transitions += 1
        await self.history.save(backup.name, status, now)
        if change is None:
            return
        bad = [(step, pair[1]) for step, pair in sorted(status.steps.items()) if pair[0] == "fail"]
        if change == "failed":
            log.warning(
                "backup %s FAILING: %s", backup.name, "; ".join(f"{s}: {r}" for s, r in bad)
            )
        else:
            log.info("backup %s recovered: every step passes again", backup.name)
        await self.notices.notify(transition_notice(backup.name, change, status))
