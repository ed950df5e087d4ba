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

History goes to the store (``backup_history``); a change between healthy and failing is
announced once through ``ctx.notices`` (``backup.failed:<name>:<n>`` /
``backup.recovered:<name>:<n>``). An AWS error is counted (``sre_aws_errors_total``) and
logged. A source that is gone or refused (a non-retryable ``not_found`` / ``auth`` error:
NoSuchBucket, DBInstanceNotFound, AccessDenied) fails freshness: no backup can be read. Any
other error is a no-verdict that leaves the last known state alone, except the age gauge,
which is removed rather than left frozen at an old value.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from sre.checks.backup import (
    SIDECAR_SUFFIX,
    Candidate,
    Verdict,
    failing,
    freshness,
    integrity,
    newest_and_earlier,
    not_judged,
    parse_sidecar,
    restore_check,
    restore_verdict,
    size,
    transition,
)
from sre.clients import ClientError
from sre.clients.aws import AwsClient, S3Object
from sre.clients.postgres import PostgresRestorer, RestoreError, RestoreResult
from sre.config import Backup, RestoreTest
from sre.daemon.feature import Feature, FeatureContext
from sre.daemon.metrics import catalog_metric
from sre.jobs.aws_common import aws_client
from sre.jobs.backup_history import History, Status
from sre.jobs.base import JobSpec
from sre.notify.notices import Notice

log = logging.getLogger(__name__)

RestorerFactory = Callable[[str, RestoreTest], PostgresRestorer]
# non-retryable ClientError reasons meaning the source is gone or refused to us
VANISHED = frozenset({"not_found", "auth"})


def build(ctx: FeatureContext) -> Feature | None:
    if not ctx.config.backups or ctx.config.aws is None:
        return None
    return BackupsFeature(ctx, ctx.config.backups)


def _default_restorer(dsn: str, test: RestoreTest) -> PostgresRestorer:
    return PostgresRestorer(dsn, timeout=test.timeout.seconds)


class BackupsFeature(Feature):
    name = "backups"

    def __init__(
        self,
        ctx: FeatureContext,
        backups: Sequence[Backup],
        client: AwsClient | None = None,
        restorer: RestorerFactory = _default_restorer,
    ) -> None:
        self.ctx = ctx
        self.backups = list(backups)
        if client is None:
            assert ctx.config.aws is not None
            client = aws_client(ctx.config.aws, ctx.metrics.aws_errors)
        self.client = client
        self.restorer = restorer
        self.history = History(ctx.store)
        registry = ctx.registry
        self.last_success = catalog_metric(registry, "sre_backup_last_success_timestamp_seconds")
        self.age = catalog_metric(registry, "sre_backup_age_seconds")
        self.size = catalog_metric(registry, "sre_backup_size_bytes")
        self.success = catalog_metric(registry, "sre_backup_verification_success")
        self.restore_duration = catalog_metric(registry, "sre_backup_restore_duration_seconds")
        for backup in self.backups:  # survive restarts: the alert measures from this
            status = self.history.status(backup.name)
            if status.last_success is not None:
                self.last_success.labels(backup=backup.name).set(status.last_success)
            for step, (outcome, _) in status.steps.items():
                self._set_step(backup.name, step, outcome)

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
        now = self.ctx.clock()
        source = f"s3://{backup.s3.bucket}/{backup.s3.prefix}" if backup.s3 else "rds"
        try:
            if backup.s3 is not None:
                verdicts, newest = await self._s3_ladder(backup, now)
            else:
                verdicts, newest = await self._rds_ladder(backup, now)
        except ClientError as err:  # counted by the client
            log.warning("backup %s: %s unavailable (%s): %s", backup.name, source, err.reason, err)
            self._forget_age(backup.name)
            if err.retryable or err.reason not in VANISHED:  # may pass later: state stays
                verdict = not_judged("freshness", f"source unavailable: {err.reason}")
                self.history.add_runs(backup.name, now, [verdict])
                return [verdict]
            # gone or refused: no backup can be read, which is what freshness is about
            verdicts = [
                Verdict("freshness", "fail", f"source unavailable: {err.reason}"),
                *_skipped(("size", "integrity"), "freshness"),
            ]
            self.history.add_runs(backup.name, now, verdicts)
            self._judge(backup, verdicts, now)
            return verdicts
        age = None if newest is None else max(0.0, now - newest.created_at)
        if newest is not None and age is not None:
            self.age.labels(backup=backup.name).set(age)
            if newest.size_bytes is not None:
                self.size.labels(backup=backup.name).set(newest.size_bytes)
        else:
            self._forget_age(backup.name)
        self.history.add_runs(
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
        self._judge(backup, verdicts, now)
        return verdicts

    async def _s3_ladder(
        self, backup: Backup, now: float
    ) -> tuple[list[Verdict], Candidate | None]:
        assert backup.s3 is not None
        objects = await self.client.list_objects(backup.s3.bucket, backup.s3.prefix)
        keys = {o.key for o in objects}
        dumps = {o.key: o for o in objects if _is_dump(o.key)}
        newest, earlier = newest_and_earlier(
            [Candidate(o.key, o.size, o.modified) for o in dumps.values()]
        )
        max_age = backup.max_age.seconds
        fresh = freshness(newest.created_at if newest else None, now=now, max_age_seconds=max_age)
        if newest is None or not fresh.passed:
            return [fresh, *_skipped(("size", "integrity"), "freshness")], newest
        sized = size(
            newest.size_bytes or 0,
            earlier,
            min_size_bytes=backup.min_size_bytes,
            max_shrink_ratio=backup.max_shrink_ratio,
        )
        if not sized.passed:
            return [fresh, sized, *_skipped(("integrity",), "size")], newest
        try:
            checked = await self._integrity(backup, dumps[newest.name], keys, now)
        except ClientError as err:  # counted by the client; what was judged still stands
            log.warning(
                "backup %s: cannot read %s (%s): %s", backup.name, newest.name, err.reason, err
            )
            checked = not_judged("integrity", f"could not read the backup: {err.reason}")
        return [fresh, sized, checked], newest

    async def _integrity(
        self, backup: Backup, obj: S3Object, keys: set[str], now: float
    ) -> Verdict:
        assert backup.s3 is not None
        bucket = backup.s3.bucket
        # every published digest must match: one that disagrees means a bad copy or a bad
        # sidecar, and either is worth a look
        digests: dict[str, str] = {}
        s3_digest = await self.client.object_sha256(bucket, obj.key)
        if s3_digest is not None:
            digests["S3 checksum"] = s3_digest
        sidecar = obj.key + SIDECAR_SUFFIX
        if sidecar in keys:
            published = parse_sidecar(await self.client.read_small(bucket, sidecar))
            if published is None:
                return Verdict("integrity", "fail", f"{sidecar} holds no SHA-256 digest")
            digests[sidecar] = published
        if not digests:
            return integrity(None, None)
        expected = ",".join(f"{source}={digest}" for source, digest in sorted(digests.items()))
        known = self.history.integrity(backup.name, obj.key, obj.etag, expected)
        if known is not None:
            return known
        with tempfile.TemporaryDirectory(prefix="sre-backup-") as tmp:
            actual = await self.client.download(bucket, obj.key, Path(tmp) / "object")
        verdict = _against_all(digests, actual)
        self.history.remember_integrity(
            backup.name, obj.key, obj.etag, expected, verdict=verdict, now=now
        )
        return verdict

    async def _rds_ladder(
        self, backup: Backup, now: float
    ) -> tuple[list[Verdict], Candidate | None]:
        assert backup.rds is not None
        snapshots = await self.client.db_snapshots(backup.rds.db_instance)
        ready = [
            Candidate(s.id, None, s.created)
            for s in snapshots
            if s.status == "available" and s.created is not None
        ]
        newest, _ = newest_and_earlier(ready)
        max_age = backup.max_age.seconds
        fresh = freshness(newest.created_at if newest else None, now=now, max_age_seconds=max_age)
        why = "RDS snapshots have no file to size or checksum"
        return [fresh, not_judged("size", why), not_judged("integrity", why)], newest

    # ------------------------------------------------------------------ the restore test

    async def restore(self, backup: Backup) -> Verdict:
        test = backup.restore_test
        assert test is not None and backup.s3 is not None
        now = self.ctx.clock()
        try:
            verdict, result = await self._restore(backup, test, now)
        except ClientError as err:
            log.warning("backup %s: restore test skipped (%s): %s", backup.name, err.reason, err)
            verdict = not_judged("restore", f"backup unavailable: {err.reason}")
            self.history.add_runs(backup.name, now, [verdict])
            return verdict
        duration = None
        if result is not None and result.restored and result.duration_seconds is not None:
            duration = result.duration_seconds
            self.restore_duration.labels(backup=backup.name).set(duration)
        log.info(
            "backup %s restore test: %s (%s)%s",
            backup.name,
            verdict.outcome,
            verdict.reason,
            "" if duration is None else f" in {duration:.1f}s",
        )
        self.history.add_runs(backup.name, now, [verdict], duration_seconds=duration)
        self._judge(backup, [verdict], now)
        return verdict

    async def _restore(
        self, backup: Backup, test: RestoreTest, now: float
    ) -> tuple[Verdict, RestoreResult | None]:
        assert backup.s3 is not None
        dsn = os.environ.get(test.dsn_env, "")
        if not dsn:
            return Verdict("restore", "fail", f"{test.dsn_env} is not set"), None
        try:
            restorer = self.restorer(dsn, test)
        except ValueError as err:  # parse_dsn names the problem, never the value
            return Verdict("restore", "fail", f"{test.dsn_env}: {err}"), None
        except Exception:  # anything else may quote the DSN: say nothing of it
            log.warning("backup %s: %s could not be used", backup.name, test.dsn_env)
            return Verdict("restore", "fail", f"{test.dsn_env} could not be used"), None
        objects = await self.client.list_objects(backup.s3.bucket, backup.s3.prefix)
        newest, _ = newest_and_earlier(
            [Candidate(o.key, o.size, o.modified) for o in objects if _is_dump(o.key)]
        )
        if newest is None:
            return not_judged("restore", "no backup to restore"), None
        safe = re.sub(r"[^a-z0-9]+", "_", backup.name.lower())[:30]
        with tempfile.TemporaryDirectory(prefix="sre-restore-") as tmp:
            dump = Path(tmp) / "dump"
            await self.client.download(backup.s3.bucket, newest.name, dump)
            try:
                result = await restorer.restore_test(
                    dump,
                    prefix=f"sre_restore_{safe}_",
                    suffix=str(int(now)),
                    checks=[c.sql for c in test.checks],
                )
            except (RestoreError, OSError, TimeoutError) as err:
                why = restorer.scrub(str(err)) or type(err).__name__
                return Verdict("restore", "fail", f"restore test could not run: {why}"), None
        if not result.restored:
            return restore_verdict(result.error or "restore failed", []), result
        checks = []
        for check, got in zip(test.checks, result.checks, strict=True):
            if got.error is not None:
                checks.append(Verdict("restore", "fail", f"{check.sql!r}: {got.error}"))
            else:
                checks.append(
                    restore_check(
                        check.sql,
                        got.value,
                        minimum=check.min,
                        maximum=check.max,
                        equals=check.equals,
                    )
                )
        return restore_verdict(None, checks), result

    # ------------------------------------------------------------------ state and notices

    def _forget_age(self, backup: str) -> None:
        with contextlib.suppress(KeyError):
            self.age.remove(backup)

    def _set_step(self, backup: str, step: str, outcome: str) -> None:
        if outcome == "no_verdict":
            with contextlib.suppress(KeyError):
                self.success.remove(backup, step)
        else:
            self.success.labels(backup=backup, step=step).set(1 if outcome == "pass" else 0)

    def _judge(self, backup: Backup, verdicts: Sequence[Verdict], now: float) -> None:
        status = self.history.status(backup.name)
        for v in verdicts:
            status.steps[v.step] = [v.outcome, v.reason]
            self._set_step(backup.name, v.step, v.outcome)
        outcomes = {step: pair[0] for step, pair in status.steps.items()}
        now_failing = failing(outcomes)
        if not now_failing and outcomes.get("freshness") == "pass":
            status.last_success = now
            self.last_success.labels(backup=backup.name).set(now)
        change = transition(status.failing, now_failing)
        status.failing = now_failing
        if change is not None:
            status.transitions += 1
        self.history.save(backup.name, status, now)
        if change is not None:
            self._announce(backup, change, status)

    def _announce(self, backup: Backup, change: str, status: Status) -> None:
        bad = [(step, pair[1]) for step, pair in sorted(status.steps.items()) if pair[0] == "fail"]
        if change == "failed":
            log.warning(
                "backup %s FAILING: %s", backup.name, "; ".join(f"{s}: {r}" for s, r in bad)
            )
            title = f"Backup {backup.name} failed verification"
            text = "\n".join(f"• *{step}*: {reason}" for step, reason in bad)
            severity = "critical"
        else:
            log.info("backup %s recovered: every step passes again", backup.name)
            title = f"Backup {backup.name} verified again"
            text = "Every verification step passes again."
            severity = "resolved"
        self.ctx.notices.notify(
            Notice(
                key=f"backup.{change}:{backup.name}:{status.transitions}",
                title=title,
                text=text,
                severity=severity,
                source="backup",
                fields={"backup": backup.name, "steps": ", ".join(s for s, _ in bad) or "-"},
                labels={"backup": backup.name},
            )
        )


def _against_all(digests: dict[str, str], actual: str) -> Verdict:
    """The integrity verdict against every published digest (named, when more than one)."""
    verdicts = {source: integrity(digest, actual) for source, digest in digests.items()}
    bad = [(source, v) for source, v in sorted(verdicts.items()) if v.outcome != "pass"]
    if not bad:
        what = " and ".join(sorted(verdicts)) if len(verdicts) > 1 else ""
        return Verdict("integrity", "pass", f"SHA-256 matches {what}".rstrip())
    if len(verdicts) == 1:
        return bad[0][1]
    return Verdict("integrity", "fail", "; ".join(f"{v.reason} ({s})" for s, v in bad))


def _is_dump(key: str) -> bool:
    return not key.endswith(SIDECAR_SUFFIX) and not key.endswith("/")


def _skipped(steps: Sequence[str], after: str) -> list[Verdict]:
    return [not_judged(step, f"not checked: {after} failed") for step in steps]
