"""The PostgreSQL backend's own promises, on Debian's server: several replicas (here: several
stores, each with its own connections) share one database safely.

* a key is claimed by exactly one of many concurrent writers;
* outbox rows commit in id order, so a reader that asks for "ids above the last one seen"
  never skips a row committed late;
* migrations run once when several replicas start together;
* a database restart is ``StoreUnavailable`` while it lasts, and the store reconnects;
* errors name the database, never a credential.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from sre.runtime.store import Store, StoreError, StoreUnavailable
from sre.runtime.store.contract import Tx
from sre.runtime.store.postgres import open_postgres, where
from sre.runtime.store.sql import SqlStore
from tests.helpers import free_port
from tests.helpers.postgres import PostgresCluster

pytestmark = pytest.mark.integration


@pytest.fixture
def url(pg_cluster: PostgresCluster) -> str:
    return pg_cluster.create_database("pgstore")


@pytest.fixture
def replicas(url: str) -> Iterator[list[SqlStore]]:
    stores = [open_postgres(url) for _ in range(3)]
    yield stores
    for store in stores:
        store.close()


def test_each_key_is_claimed_by_exactly_one_replica(replicas: list[SqlStore]) -> None:
    keys = [f"group-{i}" for i in range(60)]
    wins: list[tuple[str, int]] = []
    lock = threading.Lock()

    def claim_all(n: int) -> None:
        store = replicas[n % len(replicas)]
        for key in random.sample(keys, len(keys)):
            if store.claim("alerts", key):
                with lock:
                    wins.append((key, n))

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(claim_all, range(6)))
    assert sorted(k for k, _ in wins) == sorted(keys)


def test_outbox_rows_commit_in_id_order(replicas: list[SqlStore]) -> None:
    """Writers that stall between their insert and their commit never let a reader jump
    past their row: what "after the last id seen" returns is complete, always."""
    writers, per_writer = 6, 15
    stop = threading.Event()
    seen: list[int] = []

    def write(n: int) -> None:
        store = replicas[n % len(replicas)]
        for i in range(per_writer):
            with store.transaction():
                store.outbox_add("alerts", {"writer": n, "i": i})
                time.sleep(random.uniform(0, 0.004))  # a slow commit, other writers go on

    def read() -> None:
        last = 0
        while True:
            done = stop.is_set()
            for item in replicas[0].outbox_pending(["alerts"], limit=10_000, after=last):
                seen.append(item.id)
                last = item.id
            if done:
                return

    reader = threading.Thread(target=read)
    reader.start()
    with ThreadPoolExecutor(max_workers=writers) as pool:
        list(pool.map(write, range(writers)))
    stop.set()
    reader.join()
    assert len(seen) == writers * per_writer == len(set(seen))
    assert replicas[1].outbox_count("alerts") == len(seen)


def test_three_replicas_starting_together_migrate_once(url: str) -> None:
    table = sa.Table("feature_rows", sa.MetaData(), sa.Column("id", sa.Text, primary_key=True))
    runs: list[int] = []

    def create(tx: Tx) -> None:
        runs.append(1)
        tx.create(table)

    def start() -> int:
        store = open_postgres(url)
        try:
            return store.migrate("feature", [create, "ALTER TABLE feature_rows ADD x TEXT;"])
        finally:
            store.close()

    barrier = threading.Barrier(3)

    def together() -> int:
        barrier.wait()
        return start()

    with ThreadPoolExecutor(max_workers=3) as pool:
        assert list(pool.map(lambda _: together(), range(3))) == [2, 2, 2]
    assert runs == [1]
    store = open_postgres(url)
    try:
        assert (store.version("core"), store.version("feature")) == (2, 2)
    finally:
        store.close()


def test_a_database_restart_is_unavailable_then_reconnects(
    pg_cluster: PostgresCluster, url: str
) -> None:
    store: Store = open_postgres(url)
    try:
        assert store.outbox_add("alerts", {"n": 1}) is not None
        pg_cluster.pg_ctl("stop")
        try:
            with pytest.raises(StoreUnavailable):
                store.outbox_add("alerts", {"n": 2})
            assert store.writable() is not None
        finally:
            pg_cluster.pg_ctl("start")
        deadline = time.monotonic() + 20
        while store.writable() is not None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert store.writable() is None
        assert store.outbox_add("alerts", {"n": 3}) is not None
        payloads = [i.payload["n"] for i in store.outbox_pending(["alerts"])]
        assert payloads == [1, 3]  # nothing half-written during the outage
    finally:
        store.close()


def test_an_unreachable_database_is_a_store_error_without_credentials() -> None:
    port = free_port()
    with pytest.raises(StoreError) as caught:
        open_postgres(f"postgresql://127.0.0.1:{port}/sre")
    message = str(caught.value)
    assert f"postgresql://127.0.0.1:{port}/sre" in message
    assert "PGPASSWORD" in message


def test_where_never_shows_a_credential() -> None:
    shown = where("postgresql://alice:s3cret@db.example:6432/sre?sslmode=require")
    assert shown == "postgresql://db.example:6432/sre"


def test_a_paused_replica_does_not_hold_its_locks(url: str) -> None:
    """A transaction left idle mid-way (its process stopped) is ended by the server after
    ``idle_in_transaction``: the key it claimed is free for another replica, and the
    paused one finds its transaction gone when it resumes."""
    paused, other = open_postgres(url, idle_in_transaction=0.5), open_postgres(url)
    try:
        holding = threading.Event()
        outcome: list[BaseException] = []

        def pause_inside() -> None:
            try:
                with paused.transaction():
                    paused.claim("rollback", "api@7")
                    holding.set()
                    time.sleep(2.0)  # stopped here: no statement, no commit
            except BaseException as err:
                outcome.append(err)

        thread = threading.Thread(target=pause_inside)
        thread.start()
        assert holding.wait(10)
        began = time.monotonic()
        assert other.claim("rollback", "api@7") is True  # waited for the server, not the pause
        assert time.monotonic() - began < 1.8
        thread.join()
        assert outcome and isinstance(outcome[0], StoreUnavailable)
    finally:
        paused.close()
        other.close()


def test_a_row_above_an_insert_in_flight_waits_for_it_never_past_it(url: str) -> None:
    """Reading past an id still in flight would skip it for good; a rolled-back insert
    leaves a gap for ever, and the reader must not wait on that for ever either."""
    store, other = open_postgres(url), open_postgres(url)
    try:
        in_flight, release = threading.Event(), threading.Event()

        def slow_insert(commit: bool) -> None:
            try:
                with store.transaction():
                    store.outbox_add("alerts", {"n": "slow"})
                    in_flight.set()
                    release.wait(10)
                    if not commit:
                        raise RuntimeError("rolled back")
            except RuntimeError:
                pass

        for commit in (True, False):
            in_flight.clear()
            release.clear()
            thread = threading.Thread(target=slow_insert, args=(commit,))
            thread.start()
            assert in_flight.wait(10)
            last = max([0, *(i.id for i in other.outbox_pending(["alerts"]))])
            fast = other.outbox_add("alerts", {"n": "fast"})
            assert other.outbox_pending(["alerts"], after=last) == []  # not past the slow one
            release.set()
            thread.join()
            deadline = time.monotonic() + 5
            while not (found := other.outbox_pending(["alerts"], after=last)):
                assert time.monotonic() < deadline, "a rolled-back insert blocks the reader"
                time.sleep(0.1)
            assert found[-1].id == fast
            assert [i.payload["n"] for i in found] == (["slow", "fast"] if commit else ["fast"])
    finally:
        store.close()
        other.close()
