"""Backup verification against the real moto server: S3 objects (fresh, stale, empty,
shrunken, corrupted, S3 checksums) and RDS snapshots; failure and recovery notices; AWS
errors counted without stopping the other backups."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig

from sre.checks.backup import Verdict
from sre.features.backups.feature import BackupsFeature
from tests.helpers import free_port
from tests.helpers.bench import Bench, FixedClock, built, notices, sample
from tests.helpers.bench import bench as bench_for
from tests.helpers.moto import MotoServer

pytestmark = pytest.mark.integration

BUCKET = "sre-backups"
HOUR = 3600.0


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def boto(moto: MotoServer, service: str) -> Any:
    config = BotoConfig(request_checksum_calculation="when_required")
    return boto3.client(service, region_name="us-west-2", endpoint_url=moto.url, config=config)


@pytest.fixture
def s3(moto: MotoServer) -> Any:
    moto.reset()
    client = boto(moto, "s3")
    client.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    return client


def put(s3: Any, key: str, body: bytes, *, sidecar: bytes | None = None, **kw: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body, **kw)
    if sidecar is not None:
        s3.put_object(Bucket=BUCKET, Key=key + ".sha256", Body=sidecar)


def sha(data: bytes) -> bytes:
    return f"{hashlib.sha256(data).hexdigest()}  dump\n".encode()


def s3_backup(name: str = "pg", prefix: str = "pg/", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "s3": {"bucket": BUCKET, "prefix": prefix},
        "max_age": "26h",
        "min_size_bytes": 1000,
        "max_shrink_ratio": 0.5,
        **extra,
    }


async def run_backups(
    tmp: Path, endpoint: str, backups: list[dict[str, Any]], check: Any, *, now: float
) -> None:
    aws = {"region": "us-west-2", "endpoint_url": endpoint}
    async with bench_for(tmp, FixedClock(now), aws=aws, backups=backups) as bench:
        assert bench.config.aws is not None
        client = bench.aws_client(attempts=2, backoff=0.01)
        await check(bench, bench.backups(client))


def outcomes(verdicts: list[Verdict]) -> dict[str, str]:
    return {v.step: v.outcome for v in verdicts}


def step(bench: Bench, name: str, backup: str = "pg") -> float | None:
    return sample(bench, "sre_backup_verification_success", backup=backup, step=name)


def test_build_and_jobs(tmp_path: Path) -> None:
    async def go() -> None:
        async with bench_for(tmp_path, FixedClock(0)) as bench:
            assert not [f for f in await built(bench) if isinstance(f, BackupsFeature)]
        aws = {"region": "us-west-2"}
        restore = {"kind": "postgres", "dsn_env": "X_DSN", "schedule": "0 4 * * 0"}
        backups = [
            s3_backup(restore_test=restore),
            {"name": "db", "rds": {"db_instance": "d"}, "max_age": "1d"},
        ]
        async with bench_for(tmp_path, FixedClock(0), aws=aws, backups=backups) as bench:
            [feature] = [f for f in await built(bench) if isinstance(f, BackupsFeature)]
            ids = [(j.id, j.run_at_start) for j in feature.jobs()]
            assert ids == [
                ("backups.verify.pg", True),
                ("backups.restore.pg", False),
                ("backups.verify.db", True),
            ]

    asyncio.run(go())


def test_fresh_backup_passes_every_step(tmp_path: Path, s3: Any, moto: MotoServer) -> None:
    for day in (1, 2):
        put(s3, f"pg/2026-11-0{day}.dump", b"x" * 5000)
    latest = b"y" * 5200
    put(s3, "pg/2026-11-03.dump", latest, sidecar=sha(latest))
    now = time.time() + 60

    async def check(bench: Bench, feature: BackupsFeature) -> None:
        downloads: list[str] = []
        chained = feature.ladder.client.on_request
        feature.ladder.client.on_request = lambda s, o: (
            downloads.append(o),
            chained and chained(s, o),
        )
        verdicts = await feature.verify(feature.backups[0])
        assert outcomes(verdicts) == {"freshness": "pass", "size": "pass", "integrity": "pass"}
        assert [step(bench, s) for s in ("freshness", "size", "integrity")] == [1, 1, 1]
        assert sample(bench, "sre_backup_size_bytes", backup="pg") == 5200
        age = sample(bench, "sre_backup_age_seconds", backup="pg")
        assert age is not None and 0 <= age < 600
        assert sample(bench, "sre_backup_last_success_timestamp_seconds", backup="pg") == now
        assert downloads.count("get_object") == 2  # the sidecar and the dump
        await feature.verify(feature.backups[0])  # verified once per object: no re-download
        assert downloads.count("get_object") == 3  # only the sidecar again
        assert notices(bench) == []  # healthy from the start: nothing to say
        runs = await feature.history.runs("pg")
        assert len(runs) == 6 and runs[0].object == "pg/2026-11-03.dump"

    asyncio.run(run_backups(tmp_path, moto.url, [s3_backup()], check, now=now))


def test_stale_backup_fails_freshness(tmp_path: Path, s3: Any, moto: MotoServer) -> None:
    put(s3, "pg/2026-11-01.dump", b"x" * 5000)
    now = time.time() + 30 * HOUR  # max_age is 26h

    async def check(bench: Bench, feature: BackupsFeature) -> None:
        verdicts = await feature.verify(feature.backups[0])
        assert outcomes(verdicts) == {
            "freshness": "fail",
            "size": "no_verdict",
            "integrity": "no_verdict",
        }
        assert "old (max 26.0h)" in verdicts[0].reason
        assert step(bench, "freshness") == 0 and step(bench, "size") is None
        assert sample(bench, "sre_backup_last_success_timestamp_seconds", backup="pg") is None
        age = sample(bench, "sre_backup_age_seconds", backup="pg")
        assert age is not None and age > 29 * HOUR
        [notice] = notices(bench)
        assert notice["key"] == "backup.failed:pg:1" and notice["severity"] == "critical"
        assert "freshness" in notice["text"]

    asyncio.run(run_backups(tmp_path, moto.url, [s3_backup()], check, now=now))


def test_missing_and_empty_backups(tmp_path: Path, s3: Any, moto: MotoServer) -> None:
    put(s3, "pg/2026-11-01.dump", b"x" * 5000)
    put(s3, "pg/2026-11-02.dump", b"")
    backups = [s3_backup(), s3_backup(name="none", prefix="nothing-here/")]

    async def check(bench: Bench, feature: BackupsFeature) -> None:
        empty, missing = feature.backups
        verdicts = await feature.verify(empty)
        assert outcomes(verdicts)["size"] == "fail" and "empty" in verdicts[1].reason
        assert outcomes(verdicts)["integrity"] == "no_verdict"
        verdicts = await feature.verify(missing)
        assert verdicts[0] == Verdict("freshness", "fail", "no backup found")
        assert sample(bench, "sre_backup_age_seconds", backup="none") is None
        assert sorted(n["key"] for n in notices(bench)) == [
            "backup.failed:none:1",
            "backup.failed:pg:1",
        ]

    asyncio.run(run_backups(tmp_path, moto.url, backups, check, now=time.time()))


def test_shrunken_backup_fails_size(tmp_path: Path, s3: Any, moto: MotoServer) -> None:
    for day in (1, 2, 3):
        put(s3, f"pg/2026-11-0{day}.dump", b"x" * 10_000)
    put(s3, "pg/2026-11-04.dump", b"x" * 3_000)  # above the minimum, 70% below the median

    async def check(bench: Bench, feature: BackupsFeature) -> None:
        verdicts = await feature.verify(feature.backups[0])
        assert outcomes(verdicts)["size"] == "fail"
        assert "70% smaller than the median of the 3 earlier backups" in verdicts[1].reason
        assert (
            step(bench, "size") == 0 and sample(bench, "sre_backup_size_bytes", backup="pg") == 3000
        )

    asyncio.run(run_backups(tmp_path, moto.url, [s3_backup()], check, now=time.time()))


def test_corrupted_backup_then_recovery(tmp_path: Path, s3: Any, moto: MotoServer) -> None:
    good = b"pg-dump-bytes" * 200
    put(s3, "pg/2026-11-01.dump", good, sidecar=sha(b"what was really dumped"))

    async def check(bench: Bench, feature: BackupsFeature) -> None:
        assert isinstance(bench.clock, FixedClock)
        verdicts = await feature.verify(feature.backups[0])
        assert outcomes(verdicts)["integrity"] == "fail"
        assert "SHA-256 mismatch" in verdicts[2].reason
        assert step(bench, "integrity") == 0
        await feature.verify(feature.backups[0])  # still failing: no second message
        assert [n["key"] for n in notices(bench)] == ["backup.failed:pg:1"]
        # the next night's backup is sound
        put(s3, "pg/2026-11-02.dump", good, sidecar=sha(good))
        bench.clock.now += 60
        verdicts = await feature.verify(feature.backups[0])
        assert outcomes(verdicts)["integrity"] == "pass"
        assert step(bench, "integrity") == 1
        assert (
            sample(bench, "sre_backup_last_success_timestamp_seconds", backup="pg")
            == bench.clock.now
        )
        keys = [n["key"] for n in notices(bench)]
        assert keys == ["backup.failed:pg:1", "backup.recovered:pg:2"]
        assert notices(bench)[1]["severity"] == "resolved"

    asyncio.run(run_backups(tmp_path, moto.url, [s3_backup()], check, now=time.time()))


def test_s3_checksum_and_no_digest(tmp_path: Path, s3: Any, moto: MotoServer) -> None:
    put(s3, "a/1.dump", b"z" * 4000, ChecksumAlgorithm="SHA256")
    put(s3, "b/1.dump", b"z" * 4000)
    backups = [s3_backup(name="summed", prefix="a/"), s3_backup(name="plain", prefix="b/")]

    async def check(bench: Bench, feature: BackupsFeature) -> None:
        summed, plain = feature.backups
        verdicts = await feature.verify(summed)
        assert verdicts[2] == Verdict("integrity", "pass", "SHA-256 matches")
        verdicts = await feature.verify(plain)
        assert outcomes(verdicts)["integrity"] == "no_verdict"
        assert step(bench, "integrity", "plain") is None  # not judged: no series
        assert (
            sample(bench, "sre_backup_last_success_timestamp_seconds", backup="plain") is not None
        )

    asyncio.run(run_backups(tmp_path, moto.url, backups, check, now=time.time()))


def test_rds_snapshots(tmp_path: Path, moto: MotoServer) -> None:
    moto.reset()
    rds = boto(moto, "rds")
    rds.create_db_instance(
        DBInstanceIdentifier="main-db",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
    )  # moto takes an automated snapshot of its own here: a real backup, counted as one
    rds.create_db_snapshot(DBInstanceIdentifier="main-db", DBSnapshotIdentifier="manual-1")
    backups = [
        {"name": "rds-main", "rds": {"db_instance": "main-db"}, "max_age": "26h"},
        {"name": "rds-gone", "rds": {"db_instance": "no-such-db"}, "max_age": "26h"},
    ]

    async def check(bench: Bench, feature: BackupsFeature) -> None:
        assert isinstance(bench.clock, FixedClock)
        main, gone = feature.backups
        verdicts = await feature.verify(main)
        assert outcomes(verdicts) == {
            "freshness": "pass",
            "size": "no_verdict",
            "integrity": "no_verdict",
        }
        assert sample(bench, "sre_backup_size_bytes", backup="rds-main") is None
        assert step(bench, "freshness", "rds-main") == 1
        verdicts = await feature.verify(gone)
        assert verdicts[0] == Verdict("freshness", "fail", "no backup found")
        bench.clock.now += 27 * HOUR
        verdicts = await feature.verify(main)
        assert outcomes(verdicts)["freshness"] == "fail"

    asyncio.run(run_backups(tmp_path, moto.url, backups, check, now=time.time() + 60))


def test_aws_errors_are_counted_and_other_backups_go_on(
    tmp_path: Path, s3: Any, moto: MotoServer
) -> None:
    put(s3, "pg/1.dump", b"x" * 4000)
    backups = [s3_backup(name="lost", s3={"bucket": "no-such-bucket", "prefix": ""}), s3_backup()]

    async def check(bench: Bench, feature: BackupsFeature) -> None:
        for job in feature.jobs():
            assert await bench.runner.run(job.id, job.func) is True
        api = "s3.list_objects_v2"
        assert (
            sample(bench, "sre_aws_errors_total", api=api, reason="not_found") == 1
        )  # not retried
        assert step(bench, "freshness", "lost") == 0  # a bucket that is not there is a failure
        assert step(bench, "freshness") == 1  # the next backup was still verified
        runs = {r.step: r.reason for r in await feature.history.runs("lost")}
        assert runs["freshness"] == "source unavailable: not_found"
        assert [n["key"] for n in notices(bench)] == ["backup.failed:lost:1"]

    asyncio.run(run_backups(tmp_path, moto.url, backups, check, now=time.time()))


def test_unreachable_endpoint_is_retried_without_crash(tmp_path: Path) -> None:
    async def check(bench: Bench, feature: BackupsFeature) -> None:
        for job in feature.jobs():
            assert await bench.runner.run(job.id, job.func) is True
        api = "s3.list_objects_v2"
        assert sample(bench, "sre_aws_errors_total", api=api, reason="unreachable") == 2
        assert sample(bench, "sre_job_runs_total", job="backups.verify.pg", outcome="success") == 1

    endpoint = f"http://127.0.0.1:{free_port()}"
    asyncio.run(run_backups(tmp_path, endpoint, [s3_backup()], check, now=time.time()))


def test_vanished_bucket_fails_freshness_and_is_announced(
    tmp_path: Path, s3: Any, moto: MotoServer
) -> None:
    put(s3, "pg/1.dump", b"x" * 4000)

    async def check(bench: Bench, feature: BackupsFeature) -> None:
        assert isinstance(bench.clock, FixedClock)
        assert outcomes(await feature.verify(feature.backups[0]))["freshness"] == "pass"
        assert step(bench, "freshness") == 1
        assert sample(bench, "sre_backup_age_seconds", backup="pg") is not None
        s3.delete_object(Bucket=BUCKET, Key="pg/1.dump")
        s3.delete_bucket(Bucket=BUCKET)
        bench.clock.now += 60
        verdicts = await feature.verify(feature.backups[0])
        assert verdicts[0] == Verdict("freshness", "fail", "source unavailable: not_found")
        assert outcomes(verdicts) == {
            "freshness": "fail",
            "size": "no_verdict",
            "integrity": "no_verdict",
        }
        assert step(bench, "freshness") == 0
        assert step(bench, "size") is None and step(bench, "integrity") is None
        assert sample(bench, "sre_backup_age_seconds", backup="pg") is None  # not frozen
        [notice] = notices(bench)
        assert notice["key"] == "backup.failed:pg:1" and notice["severity"] == "critical"
        assert "source unavailable: not_found" in notice["text"]

    asyncio.run(run_backups(tmp_path, moto.url, [s3_backup()], check, now=time.time() + 60))


def test_no_verdict_removes_the_age_gauge(tmp_path: Path, s3: Any, moto: MotoServer) -> None:
    put(s3, "pg/1.dump", b"x" * 4000)

    async def check(bench: Bench, feature: BackupsFeature) -> None:
        await feature.verify(feature.backups[0])
        assert sample(bench, "sre_backup_age_seconds", backup="pg") is not None
        feature.ladder.client.endpoint_url = f"http://127.0.0.1:{free_port()}"  # now unreachable
        feature.ladder.client._clients.clear()
        verdicts = await feature.verify(feature.backups[0])
        assert verdicts == [Verdict("freshness", "no_verdict", "source unavailable: unreachable")]
        assert sample(bench, "sre_backup_age_seconds", backup="pg") is None
        assert step(bench, "freshness") == 1  # the last verdict stands: unknown is not failing
        assert notices(bench) == []

    asyncio.run(run_backups(tmp_path, moto.url, [s3_backup()], check, now=time.time() + 60))


def test_s3_checksum_and_sidecar_are_both_checked(
    tmp_path: Path, s3: Any, moto: MotoServer
) -> None:
    body = b"z" * 4000
    put(s3, "a/1.dump", body, sidecar=sha(b"something else"), ChecksumAlgorithm="SHA256")
    put(s3, "b/1.dump", body, sidecar=sha(body), ChecksumAlgorithm="SHA256")
    backups = [s3_backup(name="bad", prefix="a/"), s3_backup(name="good", prefix="b/")]

    async def check(bench: Bench, feature: BackupsFeature) -> None:
        bad, good = feature.backups
        verdicts = await feature.verify(bad)
        assert verdicts[2].outcome == "fail", verdicts[2]
        assert verdicts[2].reason.startswith("SHA-256 mismatch: expected ")
        assert verdicts[2].reason.endswith("(a/1.dump.sha256)")
        assert step(bench, "integrity", "bad") == 0
        verdicts = await feature.verify(good)
        assert verdicts[2] == Verdict(
            "integrity", "pass", "SHA-256 matches S3 checksum and b/1.dump.sha256"
        )
        assert step(bench, "integrity", "good") == 1

    asyncio.run(run_backups(tmp_path, moto.url, backups, check, now=time.time()))
