"""The restore test end to end: a real pg_dump (custom and plain format) in the moto
server's S3, restored into a scratch database on a real throwaway PostgreSQL cluster."""

from __future__ import annotations

import asyncio
import glob
import gzip
import logging
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from sre.features.backups.feature import BackupsFeature
from tests.helpers import find_binary
from tests.helpers.bench import Bench, FixedClock, notices, sample
from tests.helpers.bench import bench as bench_for
from tests.helpers.moto import MotoServer
from tests.helpers.postgres import PostgresCluster

pytestmark = pytest.mark.integration

BUCKET = "restore-tests"
SECRET = "s3cret-restore-pw"
DSN_ENV = "SRE_TEST_RESTORE_DSN"


def pg_dump() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"), reverse=True)
    return found[0] if found else find_binary("pg_dump")


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    with PostgresCluster() as pg:
        pg.psql("CREATE DATABASE app")
        pg.psql(
            "CREATE TABLE users (id int PRIMARY KEY, name text);"
            "INSERT INTO users VALUES (1, 'ada'), (2, 'grace'), (3, 'linus')",
            database="app",
        )
        yield pg


@pytest.fixture(scope="module")
def dumps(cluster: PostgresCluster, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    out = {}
    where = tmp_path_factory.mktemp("dumps")
    for fmt in ("c", "p"):
        path = where / f"app.{fmt}"
        subprocess.run(
            [pg_dump(), f"-F{fmt}", "--no-owner", "-f", str(path), cluster.dsn("app")],
            check=True,
            timeout=60,
        )
        out[fmt] = path.read_bytes()
    return out


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture
def s3(moto: MotoServer, monkeypatch: pytest.MonkeyPatch, cluster: PostgresCluster) -> Any:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # trust auth ignores the password; it is here to prove it is never shown
    dsn = f"postgresql://postgres:{SECRET}@127.0.0.1:{cluster.port}/postgres"
    monkeypatch.setenv(DSN_ENV, dsn)
    moto.reset()
    client = boto3.client("s3", region_name="us-west-2", endpoint_url=moto.url)
    client.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    return client


@dataclass
class World:
    s3: Any
    moto: MotoServer
    cluster: PostgresCluster
    dumps: dict[str, bytes]


@pytest.fixture
def world(s3: Any, moto: MotoServer, cluster: PostgresCluster, dumps: dict[str, bytes]) -> World:
    return World(s3, moto, cluster, dumps)


def backup(*checks: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "postgres-nightly",
        "s3": {"bucket": BUCKET, "prefix": "pg/"},
        "max_age": "26h",
        "restore_test": {"kind": "postgres", "dsn_env": DSN_ENV, "checks": list(checks)},
    }


async def run_restore(tmp: Path, moto: MotoServer, cfg: dict[str, Any], check: Any) -> None:
    aws = {"region": "us-west-2", "endpoint_url": moto.url}
    async with bench_for(tmp, FixedClock(time.time()), aws=aws, backups=[cfg]) as bench:
        assert bench.config.aws is not None
        client = bench.aws_client(attempts=2, backoff=0.01)
        await check(bench, bench.backups(client))


def scratch_dbs(cluster: PostgresCluster) -> list[str]:
    out = cluster.psql("SELECT datname FROM pg_database WHERE datname LIKE 'sre\\_restore%'")
    return out.split()


def test_custom_dump_restores_and_passes(
    tmp_path: Path, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    world.s3.put_object(Bucket=BUCKET, Key="pg/2026-11-25.dump", Body=world.dumps["c"])
    world.cluster.psql('CREATE DATABASE "sre_restore_postgres_nightly_1"')  # left by a killed run
    cfg = backup(
        {"sql": "select count(*) from users", "min": 1},
        {"sql": "select max(id) from users", "equals": 3},
    )

    async def check(bench: Bench, feature: BackupsFeature) -> None:
        verdict = await feature.restore(feature.backups[0])
        assert verdict.outcome == "pass", verdict.reason
        assert verdict.reason == "restored, 2 check(s) passed"
        duration = sample(bench, "sre_backup_restore_duration_seconds", backup="postgres-nightly")
        assert duration is not None and duration > 0
        assert (
            sample(
                bench, "sre_backup_verification_success", backup="postgres-nightly", step="restore"
            )
            == 1
        )
        assert notices(bench) == []

    asyncio.run(run_restore(tmp_path, world.moto, cfg, check))
    assert scratch_dbs(world.cluster) == []  # the scratch database and the leftover are gone
    assert SECRET not in caplog.text


def test_plain_dump_restores_but_fails_a_check(
    tmp_path: Path, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    world.s3.put_object(Bucket=BUCKET, Key="pg/2026-11-25.sql", Body=world.dumps["p"])
    cfg = backup(
        {"sql": "select count(*) from users", "min": 10},
        {"sql": "select count(*) from orders", "min": 1},
    )

    async def check(bench: Bench, feature: BackupsFeature) -> None:
        verdict = await feature.restore(feature.backups[0])
        assert verdict.outcome == "fail"
        assert "'select count(*) from users' returned 3, below 10" in verdict.reason
        assert 'relation "orders" does not exist' in verdict.reason
        # the restore itself worked: its duration (the RTO) is recorded
        assert sample(bench, "sre_backup_restore_duration_seconds", backup="postgres-nightly")
        assert (
            sample(
                bench, "sre_backup_verification_success", backup="postgres-nightly", step="restore"
            )
            == 0
        )
        [notice] = notices(bench)
        assert notice["key"] == "backup.failed:postgres-nightly:1"
        assert "restore" in notice["text"] and SECRET not in str(notice)

    asyncio.run(run_restore(tmp_path, world.moto, cfg, check))
    assert scratch_dbs(world.cluster) == []
    assert SECRET not in caplog.text


def test_broken_dump_and_missing_dsn_fail(
    tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.s3.put_object(Bucket=BUCKET, Key="pg/2026-11-25.dump", Body=b"PGDMP truncated")
    cfg = backup({"sql": "select 1", "equals": 1})

    async def check(bench: Bench, feature: BackupsFeature) -> None:
        verdict = await feature.restore(feature.backups[0])
        assert verdict.outcome == "fail" and verdict.reason.startswith("pg_restore failed")
        assert SECRET not in verdict.reason
        assert (
            sample(bench, "sre_backup_restore_duration_seconds", backup="postgres-nightly") is None
        )
        monkeypatch.delenv(DSN_ENV)
        verdict = await feature.restore(feature.backups[0])
        assert verdict.reason == f"{DSN_ENV} is not set"

    asyncio.run(run_restore(tmp_path, world.moto, cfg, check))
    assert scratch_dbs(world.cluster) == []


def test_gzipped_plain_dump_restores(tmp_path: Path, world: World) -> None:
    body = gzip.compress(world.dumps["p"])
    world.s3.put_object(Bucket=BUCKET, Key="pg/2026-11-25.sql.gz", Body=body)
    cfg = backup({"sql": "select name = 'grace' from users where id = 2", "equals": 1})

    async def check(bench: Bench, feature: BackupsFeature) -> None:
        verdict = await feature.restore(feature.backups[0])
        assert verdict.outcome == "pass", verdict.reason

    asyncio.run(run_restore(tmp_path, world.moto, cfg, check))
    assert scratch_dbs(world.cluster) == []


def without_restrict(dump: bytes) -> bytes:
    """The dump as an older pg_dump (or an attacker) writes it: no ``\\restrict`` lines,
    which would otherwise put psql in restricted mode by themselves."""
    lines = dump.splitlines(keepends=True)
    return b"".join(line for line in lines if not re.match(rb"\\(un)?restrict ", line))


def plain_with(dump: bytes, injected: str) -> bytes:
    """The plain dump with ``injected`` put in before its first COPY block."""
    head, sep, tail = without_restrict(dump).partition(b"COPY public.users")
    assert sep, "the plain dump has COPY data"
    return head + injected.encode() + b"\n" + sep + tail


def databases(cluster: PostgresCluster) -> list[str]:
    return sorted(cluster.psql("SELECT datname FROM pg_database").split())


SHELL_ESCAPES = {
    "line_start": "\\! touch {pwned}",
    "mid_line": "SELECT 1; \\! touch {pwned}",
    # a string that looks like COPY to a line scan, so the next lines look like COPY data
    "fake_copy": "SELECT '\nCOPY public.users (id) FROM stdin;\n';\n\\! touch {pwned}\n\\.",
}


@pytest.mark.parametrize("how", sorted(SHELL_ESCAPES))
def test_plain_dump_with_shell_escape_is_refused(tmp_path: Path, world: World, how: str) -> None:
    pwned = tmp_path / "pwned"
    # the line scan refuses what starts a line; psql's \restrict mode what the scan misses
    mid_line = how != "line_start"
    body = plain_with(world.dumps["p"], SHELL_ESCAPES[how].format(pwned=pwned))
    world.s3.put_object(Bucket=BUCKET, Key="pg/2026-11-25.sql", Body=body)
    cfg = backup({"sql": "select count(*) from users", "min": 1})
    before = databases(world.cluster)

    async def check(bench: Bench, feature: BackupsFeature) -> None:
        verdict = await feature.restore(feature.backups[0])
        assert verdict.outcome == "fail"
        if mid_line:
            assert "backslash commands are restricted" in verdict.reason, verdict.reason
        else:
            expected = r"plain dump refused: line \d+ is a psql meta-command \(\\!\); "
            assert re.fullmatch(expected + "only SQL and COPY data are run", verdict.reason)
        assert (
            sample(
                bench, "sre_backup_verification_success", backup="postgres-nightly", step="restore"
            )
            == 0
        )

    asyncio.run(run_restore(tmp_path, world.moto, cfg, check))
    assert not pwned.exists()
    assert scratch_dbs(world.cluster) == [] and databases(world.cluster) == before


def test_plain_dump_that_connects_elsewhere_is_refused(tmp_path: Path, world: World) -> None:
    body = plain_with(world.dumps["p"], "\\connect postgres\nCREATE TABLE planted (id int);")
    world.s3.put_object(Bucket=BUCKET, Key="pg/2026-11-25.sql", Body=body)
    cfg = backup({"sql": "select 1", "equals": 1})
    before = databases(world.cluster)

    async def check(bench: Bench, feature: BackupsFeature) -> None:
        verdict = await feature.restore(feature.backups[0])
        assert verdict.outcome == "fail"
        assert "is a psql meta-command (\\connect)" in verdict.reason

    asyncio.run(run_restore(tmp_path, world.moto, cfg, check))
    assert world.cluster.psql("SELECT to_regclass('public.planted') IS NULL") == "t"
    assert scratch_dbs(world.cluster) == [] and databases(world.cluster) == before


def test_create_dump_is_refused(tmp_path: Path, world: World) -> None:
    path = tmp_path / "create.sql"
    subprocess.run(
        [pg_dump(), "-Fp", "--create", "--no-owner", "-f", str(path), world.cluster.dsn("app")],
        check=True,
        timeout=60,
    )
    world.s3.put_object(Bucket=BUCKET, Key="pg/2026-11-25.sql", Body=path.read_bytes())
    cfg = backup({"sql": "select 1", "equals": 1})
    before = databases(world.cluster)

    async def check(bench: Bench, feature: BackupsFeature) -> None:
        verdict = await feature.restore(feature.backups[0])
        assert verdict.outcome == "fail"
        assert "(pg_dump --create dumps are not supported)" in verdict.reason, verdict.reason

    asyncio.run(run_restore(tmp_path, world.moto, cfg, check))
    assert scratch_dbs(world.cluster) == [] and databases(world.cluster) == before


def test_unparsable_dsn_never_shows_the_password(
    tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password = "s3cr3tPW/x"
    monkeypatch.setenv(DSN_ENV, f"postgresql://app:{password}@db:5432/app")
    world.s3.put_object(Bucket=BUCKET, Key="pg/2026-11-25.dump", Body=world.dumps["c"])
    cfg = backup({"sql": "select 1", "equals": 1})

    async def check(bench: Bench, feature: BackupsFeature) -> None:
        verdict = await feature.restore(feature.backups[0])
        assert verdict.outcome == "fail"
        assert verdict.reason.startswith(f"{DSN_ENV}: is not a valid postgresql:// URI")
        history = [r.reason for r in await feature.history.runs("postgres-nightly")]
        status = await feature.history.status("postgres-nightly")
        shown = [verdict.reason, *history, str(status.steps), str(notices(bench)), caplog.text]
        assert notices(bench), "the failure is announced"
        for text in shown:
            assert "s3cr3tPW" not in text, text

    asyncio.run(run_restore(tmp_path, world.moto, cfg, check))


def test_plain_dump_without_restrict_lines_restores(tmp_path: Path, world: World) -> None:
    body = without_restrict(world.dumps["p"])
    world.s3.put_object(Bucket=BUCKET, Key="pg/2026-11-25.sql", Body=body)
    cfg = backup({"sql": "select count(*) from users", "equals": 3})

    async def check(bench: Bench, feature: BackupsFeature) -> None:
        verdict = await feature.restore(feature.backups[0])
        assert verdict.outcome == "pass", verdict.reason

    asyncio.run(run_restore(tmp_path, world.moto, cfg, check))
    assert scratch_dbs(world.cluster) == []
