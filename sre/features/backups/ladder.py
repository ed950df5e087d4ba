"""The checks of one backup, from the cheapest to the most thorough (the "ladder").

S3: freshness of the newest object under the prefix, its size against ``min_size_bytes``
and the median of the earlier copies, its integrity against every published SHA-256 (the
object's S3 ``ChecksumSHA256`` and a ``<key>.sha256`` sidecar: both are checked when both
exist). RDS: freshness of the newest *available* snapshot, automated or manual. Restore
test: the newest dump restored into a scratch database (``sre.clients.postgres``) and its
check queries run. A step that cannot run because an earlier one failed is "not judged".
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from sre.checks.backup import (
    SIDECAR_SUFFIX,
    Candidate,
    Verdict,
    freshness,
    integrity,
    newest_and_earlier,
    not_judged,
    parse_sidecar,
    restore_check,
    restore_verdict,
    size,
)
from sre.clients import ClientError
from sre.clients.aws import AwsClient, S3Object
from sre.clients.postgres import PostgresRestorer, RestoreError, RestoreResult
from sre.config import Backup, RestoreTest
from sre.features.backups.state import History

log = logging.getLogger(__name__)

RestorerFactory = Callable[[str, RestoreTest], PostgresRestorer]


def default_restorer(dsn: str, test: RestoreTest) -> PostgresRestorer:
    return PostgresRestorer(dsn, timeout=test.timeout.seconds)


class Ladder:
    def __init__(
        self, client: AwsClient, history: History, restorer: RestorerFactory = default_restorer
    ) -> None:
        self.client = client
        self.history = history
        self.restorer = restorer

    async def s3(self, backup: Backup, now: float) -> tuple[list[Verdict], Candidate | None]:
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
            return [fresh, *skipped(("size", "integrity"), "freshness")], newest
        sized = size(
            newest.size_bytes or 0,
            earlier,
            min_size_bytes=backup.min_size_bytes,
            max_shrink_ratio=backup.max_shrink_ratio,
        )
        if not sized.passed:
            return [fresh, sized, *skipped(("integrity",), "size")], newest
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
        known = await self.history.integrity(backup.name, obj.key, obj.etag, expected)
        if known is not None:
            return known
        with tempfile.TemporaryDirectory(prefix="sre-backup-") as tmp:
            actual = await self.client.download(bucket, obj.key, Path(tmp) / "object")
        verdict = _against_all(digests, actual)
        await self.history.remember_integrity(
            backup.name, obj.key, obj.etag, expected, verdict=verdict, now=now
        )
        return verdict

    async def rds(self, backup: Backup, now: float) -> tuple[list[Verdict], Candidate | None]:
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

    async def restore(
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


def skipped(steps: Sequence[str], after: str) -> list[Verdict]:
    return [not_judged(step, f"not checked: {after} failed") for step in steps]
