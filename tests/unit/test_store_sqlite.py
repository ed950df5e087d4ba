"""The SQLite backend's own promises: WAL, parent directories, the exclusive lock, background
checkpoints, a clean close, the storage failing (``StoreUnavailable``), the maintenance job."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from sre.config import DaemonConfig
from sre.runtime.maintenance import StoreMaintenance
from sre.runtime.store import StoreError, StoreUnavailable
from sre.runtime.store import sqlite as sqlite_backend
from sre.runtime.store.sqlite import open_sqlite


def test_opens_in_wal_mode_and_creates_parent_dirs(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "state.db"
    store = open_sqlite(path)
    store.cache_put("k", 1)
    assert Path(f"{path}-wal").exists()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()
    assert not store.is_open
    # A clean close checkpoints: the WAL holds nothing that the main file lacks.
    wal = Path(f"{path}-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def test_unopenable_path_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot open the state store"):
        open_sqlite(blocker / "state.db")


def test_a_storage_failure_is_unavailable_and_writes_nothing(tmp_path: Path) -> None:
    store = open_sqlite(tmp_path / "state.db")
    try:
        backend = store.backend  # type: ignore[attr-defined]
        real = backend._conn
        assert real is not None

        class Full:
            """sqlite3's answer on a full disk, for every statement."""

            def cursor(self) -> Full:
                return self

            def execute(self, *_: object) -> None:
                raise sqlite3.OperationalError("database or disk is full")

            def close(self) -> None: ...
            def rollback(self) -> None: ...

        backend._conn = Full()
        with pytest.raises(StoreUnavailable, match="disk is full"):
            store.outbox_add("alerts", {"x": 1})
        assert store.writable() == "state store not writable: database or disk is full"
        backend._conn = real
        assert store.outbox_count() == 0 and store.writable() is None
    finally:
        store.close()


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///var/lib/sre/state.db", "/var/lib/sre/state.db"),
        ("sqlite:////tmp/x.db", "/tmp/x.db"),
        ("sqlite:///./state.db", "./state.db"),
        ("sqlite:///../s/state.db", "../s/state.db"),
    ],
)
def test_sqlite_path(url: str, path: str) -> None:
    assert DaemonConfig(state=url).state_path == path


def test_maintenance_job_purges_expired_entries(tmp_path: Path) -> None:
    now = [1000.0]
    store = open_sqlite(tmp_path / "state.db", lambda: now[0])
    try:
        store.cache_put("old", 1, ttl=1)
        store.cache_put("new", 2, ttl=100)
        now[0] += 10
        (spec,) = StoreMaintenance(store).jobs()
        assert spec.id == "store.maintenance"
        asyncio.run(spec.func())
        with store.transaction() as tx:
            assert tx.all("SELECT key FROM cache") == [{"key": "new"}]
    finally:
        store.close()


def test_one_exclusive_owner_per_state_file(tmp_path: Path) -> None:
    first = open_sqlite(tmp_path / "state.db", exclusive=True)
    try:
        with pytest.raises(StoreError, match="in use by another daemon"):
            open_sqlite(tmp_path / "state.db", exclusive=True)
        reader = open_sqlite(tmp_path / "state.db")  # the audit CLI reads without the lock
        reader.close()
    finally:
        first.close()
    again = open_sqlite(tmp_path / "state.db", exclusive=True)  # released on close
    again.close()


def test_checkpoints_run_in_the_background_not_in_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_backend, "CHECKPOINT_EVERY_SECONDS", 0.05)
    store = open_sqlite(tmp_path / "state.db")
    try:
        main_file = tmp_path / "state.db"
        before = main_file.stat().st_size
        for i in range(300):
            store.cache_put(f"k{i}", "x" * 1000)
        # The writes sit in the WAL (no automatic checkpoint inside a commit) until the
        # checkpoint thread copies them into the main file.
        deadline = time.monotonic() + 5
        while main_file.stat().st_size <= before + 200_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert main_file.stat().st_size > before + 200_000
        with store.transaction() as tx:
            assert tx.scalar("PRAGMA wal_autocheckpoint") == 0
    finally:
        store.close()


def test_reads_a_state_file_written_before_the_store_contract(tmp_path: Path) -> None:
    # The tables as the first daemon release created them, with rows in them.
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            """
            CREATE TABLE schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL,
                applied_at REAL NOT NULL);
            INSERT INTO schema_versions VALUES ('core', 1, 0);
            CREATE TABLE cache (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at REAL);
            CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,
                key TEXT, payload TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
                attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL,
                created_at REAL NOT NULL, delivered_at REAL, last_error TEXT);
            CREATE UNIQUE INDEX outbox_topic_key ON outbox (topic, key) WHERE key IS NOT NULL;
            CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL,
                kind TEXT NOT NULL, subject TEXT NOT NULL, data TEXT NOT NULL);
            CREATE TABLE idempotency (scope TEXT NOT NULL, key TEXT NOT NULL,
                created_at REAL NOT NULL, PRIMARY KEY (scope, key));
            INSERT INTO outbox (topic, key, payload, next_attempt_at, created_at)
                VALUES ('notice', 'n1', '{"k": 1}', 0, 0);
            INSERT INTO idempotency VALUES ('rollback', 'api@7', 0);
            """
        )
    store = open_sqlite(path)
    try:
        (item,) = store.outbox_pending(["notice"])
        assert item.payload == {"k": 1}
        assert store.outbox_add("notice", {"k": 2}, key="n1") is None  # its index still holds
        assert store.claim("rollback", "api@7") is False
        assert store.version("core") == 1
    finally:
        store.close()
