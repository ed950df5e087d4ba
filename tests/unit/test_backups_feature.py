"""The backup feature with a fake S3: partial AWS failures, restarts, history retention."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

from sre.clients import ClientError
from sre.clients.aws import AwsClient, S3Object
from sre.features.backups.feature import BackupsFeature
from sre.features.backups.state import KEEP_SECONDS
from tests.helpers.bench import FixedClock, sample
from tests.helpers.bench import bench as bench_for

NOW = 1_800_000_000.0
DATA = b"x" * 4000
AWS = {"region": "us-west-2", "endpoint_url": "http://127.0.0.1:9"}
BACKUP = {
    "name": "pg",
    "s3": {"bucket": "b", "prefix": "pg/"},
    "max_age": "26h",
    "min_size_bytes": 100,
}


class FakeS3(AwsClient):
    def __init__(self, *, broken_download: bool = False) -> None:
        super().__init__("us-west-2", "http://127.0.0.1:9")
        self.broken_download = broken_download
        self.downloads = 0

    async def list_objects(self, bucket: str, prefix: str) -> list[S3Object]:
        return [
            S3Object("pg/1.dump", len(DATA), NOW - 3600, "e1"),
            S3Object("pg/1.dump.sha256", 64, NOW - 3600, "e2"),
        ]

    async def object_sha256(self, bucket: str, key: str) -> str | None:
        return None

    async def read_small(self, bucket: str, key: str, limit: int = 4096) -> str:
        return hashlib.sha256(DATA).hexdigest()

    async def download(self, bucket: str, key: str, dest: Path) -> str:
        self.downloads += 1
        if self.broken_download:
            raise ClientError("timeout", "s3.get_object: read timed out", retryable=True)
        dest.write_bytes(DATA)
        return hashlib.sha256(DATA).hexdigest()


def run(tmp: Path, client: FakeS3, check: Any, now: float = NOW) -> None:
    async def go() -> None:
        async with bench_for(tmp, FixedClock(now), aws=AWS, backups=[BACKUP]) as bench:
            await check(bench, bench.backups(client))

    asyncio.run(go())


def test_a_failed_download_leaves_the_earlier_steps_judged(tmp_path: Path) -> None:
    async def check(bench: Any, feature: BackupsFeature) -> None:
        verdicts = await feature.verify(feature.backups[0])
        assert [(v.step, v.outcome) for v in verdicts] == [
            ("freshness", "pass"),
            ("size", "pass"),
            ("integrity", "no_verdict"),
        ]
        assert verdicts[2].reason == "could not read the backup: timeout"
        assert sample(bench, "sre_backup_last_success_timestamp_seconds", backup="pg") == NOW

    run(tmp_path, FakeS3(broken_download=True), check)


def test_state_survives_a_restart(tmp_path: Path) -> None:
    client = FakeS3()

    async def first(bench: Any, feature: BackupsFeature) -> None:
        await feature.verify(feature.backups[0])
        assert client.downloads == 1

    async def second(bench: Any, feature: BackupsFeature) -> None:
        # restored from the store at start, before any run: the alert has something to
        # measure from
        assert sample(bench, "sre_backup_last_success_timestamp_seconds", backup="pg") is None
        await feature.start()
        assert sample(bench, "sre_backup_last_success_timestamp_seconds", backup="pg") == NOW
        labels = {"backup": "pg", "step": "integrity"}
        assert bench.registry.get_sample_value("sre_backup_verification_success", labels) == 1
        await feature.verify(feature.backups[0])
        assert client.downloads == 1  # verified before: not downloaded again

    run(tmp_path, client, first)
    run(tmp_path, client, second, now=NOW + 60)


def test_history_is_pruned(tmp_path: Path) -> None:
    async def check(bench: Any, feature: BackupsFeature) -> None:
        await feature.verify(feature.backups[0])
        assert len(await feature.history.runs("pg")) == 3
        bench.clock.now += KEEP_SECONDS + 1
        await feature.history.add_runs("pg", bench.clock.now, [])
        assert await feature.history.runs("pg") == []

    run(tmp_path, FakeS3(), check)
