"""The state store: WAL, per-component migrations, generic tables, surviving a reopen."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sre.config import DaemonConfig
from sre.daemon.store import Store, StoreError


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "sub" / "state.db"


def test_opens_in_wal_mode_and_creates_parent_dirs(path: Path, clock: FakeClock) -> None:
    store = Store(path, clock)
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.cache_put("k", 1)
    assert Path(f"{path}-wal").exists()
    store.close()
    assert not store.is_open
    # A clean close checkpoints: the WAL holds nothing that the main file lacks.
    wal = Path(f"{path}-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def test_core_schema_is_versioned(path: Path, clock: FakeClock) -> None:
    store = Store(path, clock)
    assert store.version("core") == 1
    tables = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"cache", "outbox", "audit", "idempotency", "schema_versions"} <= tables
    store.close()


def test_component_migrations_apply_once_and_append(path: Path, clock: FakeClock) -> None:
    first = ["CREATE TABLE alerts_msg (id TEXT PRIMARY KEY, ts TEXT);"]
    store = Store(path, clock)
    assert store.migrate("alerts", first) == 1
    store.db.execute("INSERT INTO alerts_msg VALUES ('a', '1')")
    store.close()

    calls: list[int] = []

    def add_index(db: sqlite3.Connection) -> None:
        calls.append(1)
        db.execute("CREATE INDEX alerts_msg_ts ON alerts_msg (ts)")

    store = Store(path, clock)
    second = [*first, "ALTER TABLE alerts_msg ADD COLUMN channel TEXT;", add_index]
    assert store.migrate("alerts", second) == 3
    assert store.migrate("alerts", second) == 3  # nothing re-runs
    assert calls == [1]
    assert store.version("alerts") == 3
    assert store.version("core") == 1  # other components untouched
    row = store.db.execute("SELECT id, channel FROM alerts_msg").fetchone()
    assert row == ("a", None)
    store.close()


def test_failed_migration_rolls_back_and_names_it(path: Path, clock: FakeClock) -> None:
    store = Store(path, clock)
    bad = ["CREATE TABLE t1 (x INT);", "CREATE TABLE t2 (x INT); INSERT INTO nope VALUES (1);"]
    with pytest.raises(StoreError, match="cost migration 2 failed"):
        store.migrate("cost", bad)
    assert store.version("cost") == 1
    tables = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "t1" in tables and "t2" not in tables
    store.close()


def test_refuses_a_newer_schema(path: Path, clock: FakeClock) -> None:
    store = Store(path, clock)
    store.migrate("backups", ["CREATE TABLE a (x INT);", "CREATE TABLE b (x INT);"])
    with pytest.raises(StoreError, match="newer than this daemon knows"):
        store.migrate("backups", ["CREATE TABLE a (x INT);"])
    store.close()


def test_unopenable_path_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot open the state store"):
        Store(blocker / "state.db")


def test_cache_expiry(path: Path, clock: FakeClock) -> None:
    store = Store(path, clock)
    store.cache_put("ce:2026-11", {"total": 12.5}, ttl=60)
    store.cache_put("forever", [1, 2])
    assert store.cache_get("ce:2026-11") == {"total": 12.5}
    clock.now += 61
    assert store.cache_get("ce:2026-11") is None
    assert store.cache_get("forever") == [1, 2]
    assert store.cache_purge() == 1
    assert store.cache_get("missing") is None
    store.close()


def test_outbox_lifecycle(path: Path, clock: FakeClock) -> None:
    store = Store(path, clock)
    first = store.outbox_add("slack", {"text": "a"}, key="g1:fp:firing")
    assert first is not None
    assert store.outbox_add("slack", {"text": "dup"}, key="g1:fp:firing") is None  # idempotent
    second = store.outbox_add("slack", {"text": "b"})
    third = store.outbox_add("slack", {"text": "c"})
    store.outbox_add("other", {"x": 1})
    assert store.outbox_pending("slack") == 3
    assert store.outbox_pending() == 4
    due = store.outbox_due("slack")
    assert [i.payload["text"] for i in due] == ["a", "b", "c"]  # oldest first
    store.outbox_delivered(first)
    assert second is not None and third is not None
    store.outbox_retry(second, "HTTP 503", delay=30)
    store.outbox_failed(third, "channel_not_found")
    assert store.outbox_due("slack") == []  # b waits for its next attempt
    clock.now += 31
    (retry,) = store.outbox_due("slack")
    assert (retry.id, retry.attempts, retry.last_error) == (second, 1, "HTTP 503")
    assert store.outbox_pending("slack") == 1
    rows = dict(store.db.execute("SELECT id, status FROM outbox").fetchall())
    assert rows[first] == "delivered" and rows[third] == "failed"
    store.close()


def test_audit_and_claims(path: Path, clock: FakeClock) -> None:
    store = Store(path, clock)
    store.audit_add("rollback", "api", {"verdict": "fail", "value": 0.2})
    clock.now += 1
    store.audit_add("rollback", "web", {"verdict": "pass"})
    store.audit_add("action", "api", {"by": "U1"})
    records = store.audit_list(kind="rollback")
    assert [r.subject for r in records] == ["web", "api"]  # newest first
    assert records[1].data == {"verdict": "fail", "value": 0.2}
    assert [r.kind for r in store.audit_list(subject="api")] == ["action", "rollback"]
    assert store.claim("rollback", "api:rev7") is True
    assert store.claim("rollback", "api:rev7") is False
    store.close()


def test_everything_survives_a_reopen(path: Path, clock: FakeClock) -> None:
    store = Store(path, clock)
    store.cache_put("k", {"v": 1}, ttl=3600)
    item = store.outbox_add("slack", {"text": "pending"}, key="k1")
    store.audit_add("rollback", "api", {"n": 1})
    store.claim("rollback", "api:rev1")
    store.close()

    again = Store(path, clock)
    assert again.cache_get("k") == {"v": 1}
    assert [i.id for i in again.outbox_due("slack")] == [item]
    assert again.audit_list()[0].data == {"n": 1}
    assert again.claim("rollback", "api:rev1") is False
    assert again.version("core") == 1
    again.close()


def test_transaction_rolls_back_on_error(path: Path, clock: FakeClock) -> None:
    store = Store(path, clock)
    with pytest.raises(RuntimeError), store.transaction() as db:
        db.execute("INSERT INTO cache (key, value) VALUES ('x', '1')")
        raise RuntimeError("boom")
    assert store.cache_get("x") is None
    store.close()


def test_run_uses_the_worker_thread(path: Path, clock: FakeClock) -> None:
    import asyncio

    store = Store(path, clock)
    store.cache_put("k", 5)
    assert asyncio.run(store.run(store.cache_get, "k")) == 5
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.cache_get("k")


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


def test_maintenance_job_purges_expired_entries(path: Path, clock: FakeClock) -> None:
    import asyncio

    from sre.daemon.app import _Maintenance

    store = Store(path, clock)
    store.cache_put("old", 1, ttl=1)
    store.cache_put("new", 2, ttl=100)
    clock.now += 10
    (spec,) = _Maintenance(store).jobs()
    assert spec.id == "store.maintenance"
    asyncio.run(spec.func())
    assert store.db.execute("SELECT key FROM cache").fetchall() == [("new",)]
    store.close()


def test_one_exclusive_owner_per_state_file(tmp_path: Path) -> None:
    first = Store(tmp_path / "state.db", exclusive=True)
    try:
        with pytest.raises(StoreError, match="in use by another daemon"):
            Store(tmp_path / "state.db", exclusive=True)
        reader = Store(tmp_path / "state.db")  # the audit CLI reads without the lock
        reader.close()
    finally:
        first.close()
    again = Store(tmp_path / "state.db", exclusive=True)  # released on close
    again.close()


def test_checkpoints_run_in_the_background_not_in_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from sre.daemon import store as store_module

    monkeypatch.setattr(store_module, "CHECKPOINT_EVERY_SECONDS", 0.05)
    store = Store(tmp_path / "state.db")
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
        assert store.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    finally:
        store.close()
