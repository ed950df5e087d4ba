"""The state store's contract (``sre.runtime.store.contract``), run against every backend:
SQLite (a file) and PostgreSQL (Debian's server on a loopback port, a database per test).

Every feature relies on these properties; a backend that passes them can hold the state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from sre.runtime.store import Store, StoreError
from sre.runtime.store.contract import Tx
from sre.runtime.store.postgres import open_postgres
from sre.runtime.store.sqlite import open_sqlite
from tests.helpers.postgres import PostgresCluster

Opener = Callable[["FakeClock"], Store]


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "postgresql"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """Opens the same state store again and again (a restart), for each backend."""
    if request.param == "sqlite":
        return lambda clock: open_sqlite(tmp_path / "sub" / "state.db", clock)
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    url = cluster.create_database("contract")
    return lambda clock: open_postgres(url, clock)


@pytest.fixture
def store(opener: Opener, clock: FakeClock) -> Iterator[Store]:
    opened = opener(clock)
    yield opened
    opened.close()


def test_core_schema_is_versioned(store: Store) -> None:
    assert store.version("core") == 2
    assert store.version("never-migrated") == 0


def test_component_migrations_apply_once_and_append(opener: Opener, clock: FakeClock) -> None:
    table = sa.Table("feature_msg", sa.MetaData(), sa.Column("id", sa.Text, primary_key=True))

    def create(tx: Tx) -> None:
        tx.create(table)

    first = [create]
    store = opener(clock)
    assert store.migrate("feature", first) == 1
    with store.transaction() as tx:
        tx.execute("INSERT INTO feature_msg (id) VALUES (:id)", {"id": "a"})
    store.close()

    calls: list[int] = []

    def add_index(tx: Tx) -> None:
        calls.append(1)
        tx.execute("CREATE INDEX feature_msg_channel ON feature_msg (channel)")

    store = opener(clock)
    second = [*first, "ALTER TABLE feature_msg ADD COLUMN channel TEXT;", add_index]
    assert store.migrate("feature", second) == 3
    assert store.migrate("feature", second) == 3  # nothing re-runs
    assert calls == [1]
    assert (store.version("feature"), store.version("core")) == (3, 2)
    with store.transaction() as tx:
        assert tx.all("SELECT id, channel FROM feature_msg") == [{"id": "a", "channel": None}]
    store.close()


def test_failed_migration_rolls_back_and_names_it(store: Store) -> None:
    bad = ["CREATE TABLE t1 (x INT);", "CREATE TABLE t2 (x INT);\nINSERT INTO nope VALUES (1);"]
    with pytest.raises(StoreError, match="cost migration 2 failed"):
        store.migrate("cost", bad)
    assert store.version("cost") == 1
    with store.transaction() as tx:
        tx.execute("INSERT INTO t1 (x) VALUES (1)")  # migration 1 stands
        with pytest.raises(Exception):  # noqa: B017 - each driver names it its way
            tx.execute("INSERT INTO t2 (x) VALUES (1)")


def test_refuses_a_newer_schema(store: Store) -> None:
    store.migrate("backups", ["CREATE TABLE a (x INT);", "CREATE TABLE b (x INT);"])
    with pytest.raises(StoreError, match="newer than this daemon knows"):
        store.migrate("backups", ["CREATE TABLE a (x INT);"])


def test_cache_expiry(store: Store, clock: FakeClock) -> None:
    store.cache_put("ce:2026-11", {"total": 12.5}, ttl=60)
    store.cache_put("forever", [1, 2])
    store.cache_put("forever", [1, 2, 3])  # replaced, not duplicated
    assert store.cache_get("ce:2026-11") == {"total": 12.5}
    clock.now += 61
    assert store.cache_get("ce:2026-11") is None
    assert store.cache_get("forever") == [1, 2, 3]
    assert store.cache_purge() == 1
    assert store.cache_get("missing") is None


def test_outbox_lifecycle(store: Store, clock: FakeClock) -> None:
    first = store.outbox_add("slack", {"text": "a"}, key="g1:fp:firing")
    assert first is not None
    assert store.outbox_add("slack", {"text": "dup"}, key="g1:fp:firing") is None  # idempotent
    second = store.outbox_add("slack", {"text": "b"})
    third = store.outbox_add("slack", {"text": "c"})
    assert second is not None and third is not None and first < second < third
    store.outbox_add("other", {"x": 1})
    assert store.outbox_count("slack") == 3
    assert store.outbox_count() == 4
    pending = store.outbox_pending(["slack"])
    assert [i.payload["text"] for i in pending] == ["a", "b", "c"]  # oldest first
    assert len(store.outbox_pending(["slack", "other"])) == 4
    store.outbox_delivered(first)
    store.outbox_retry(second, "HTTP 503", delay=30)
    store.outbox_failed(third, "channel_not_found")
    (retry,) = store.outbox_pending(["slack"])
    assert (retry.id, retry.attempts, retry.last_error) == (second, 1, "HTTP 503")
    assert retry.next_attempt_at == clock.now + 30
    assert store.outbox_count("slack") == 1
    clock.now += 8 * 86400
    assert store.outbox_prune(["slack"], delivered_before=clock.now - 7 * 86400) == 1
    assert store.outbox_prune(["slack"], delivered_before=clock.now) == 0


def test_audit_and_claims(store: Store, clock: FakeClock) -> None:
    store.audit_add("rollback", "api", {"verdict": "fail", "value": 0.2})
    clock.now += 1
    store.audit_add("rollback", "web", {"verdict": "pass"})
    store.audit_add("action", "api", {"by": "U1"})
    records = store.audit_list(kind="rollback")
    assert [r.subject for r in records] == ["web", "api"]  # newest first
    assert records[1].data == {"verdict": "fail", "value": 0.2}
    assert [r.kind for r in store.audit_list(subject="api")] == ["action", "rollback"]
    assert len(store.audit_list(limit=1)) == 1
    assert store.claim("rollback", "api:rev7") is True
    assert store.claim("rollback", "api:rev7") is False
    assert store.claimed("rollback", "api:rev7") and not store.claimed("other", "api:rev7")
    clock.now += 100
    assert store.forget_claims("rollback", older_than=50) == 1
    assert store.claim("rollback", "api:rev7") is True
    assert store.unclaim("rollback", "api:rev7") is True  # the work never happened
    assert store.unclaim("rollback", "api:rev7") is False
    assert store.claim("rollback", "api:rev7") is True


def test_a_claim_and_its_outbox_row_commit_together(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        assert store.claim("alerts", "k1")
        store.outbox_add("alerts", {"n": 1})
        raise RuntimeError("the process died here")
    assert store.claim("alerts", "k1") is True  # the claim was rolled back with the row
    assert store.outbox_count("alerts") == 0


def test_everything_survives_a_reopen(opener: Opener, clock: FakeClock) -> None:
    store = opener(clock)
    store.cache_put("k", {"v": 1}, ttl=3600)
    item = store.outbox_add("slack", {"text": "pending"}, key="k1")
    store.audit_add("rollback", "api", {"n": 1})
    store.claim("rollback", "api:rev1")
    store.close()
    assert not store.is_open

    again = opener(clock)
    try:
        assert again.cache_get("k") == {"v": 1}
        assert [i.id for i in again.outbox_pending(["slack"])] == [item]
        assert again.audit_list()[0].data == {"n": 1}
        assert again.claim("rollback", "api:rev1") is False
        assert again.version("core") == 2
    finally:
        again.close()


def test_run_uses_the_worker_thread_and_a_closed_store_says_so(store: Store) -> None:
    store.cache_put("k", 5)
    assert asyncio.run(store.run(store.cache_get, "k")) == 5
    assert store.writable() is None
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.cache_get("k")
    assert store.writable() == "state store closed"


def test_parameters_are_portable(store: Store) -> None:
    with store.transaction() as tx:
        tx.execute("CREATE TABLE p (name TEXT, pct TEXT)")
        tx.execute("INSERT INTO p (name, pct) VALUES (:n, '100%')", {"n": "x:y"})
        rows = tx.all("SELECT name, pct FROM p WHERE name IN :names", {"names": ["x:y", "z"]})
        assert rows == [{"name": "x:y", "pct": "100%"}]
        assert tx.all("SELECT name FROM p WHERE name IN :names", {"names": []}) == []
        assert tx.scalar("SELECT count(*) FROM p") == 1


def test_a_delivery_that_may_have_arrived_stays_marked(store: Store, clock: FakeClock) -> None:
    first = store.outbox_add("slack", {"text": "a"})
    second = store.outbox_add("slack", {"text": "b"})
    assert first is not None and second is not None
    store.outbox_sending(first)
    store.outbox_sending(second)
    store.outbox_retry(first, "timed out", delay=1, maybe_sent=True)  # it may be in Slack
    store.outbox_retry(second, "rate limited", delay=1)  # refused: certainly not
    marks = {i.id: i.sending_at for i in store.outbox_pending(["slack"])}
    assert marks == {first: clock.now, second: None}
    assert [i.id for i in store.outbox_pending(["slack"], after=first)] == [second]
