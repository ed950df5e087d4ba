"""The SQLite backend: one file, one daemon (the default, ``sqlite:///var/lib/sre/state.db``).

* WAL mode, ``synchronous=NORMAL``: a commit does not wait for an fsync, and readers (the
  audit CLI) never block the writer.
* ``BEGIN IMMEDIATE`` for every transaction: it takes the write lock at the start, so two
  transactions never deadlock upgrading a read lock, and migrations are serialised.
* Automatic WAL checkpoints are off; a thread of ours runs a passive checkpoint every few
  seconds on its own connection. An automatic checkpoint inside a commit once stalled
  webhook answers for 100-300 ms.
* ``exclusive``: the daemon holds an advisory lock (``<state>.lock``) while the store is
  open, so a second daemon on the same file refuses to start instead of delivering the
  same outbox twice. Readers (the audit CLI) open it without the lock.
"""

from __future__ import annotations

import fcntl
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Dialect

from sre.runtime.store.contract import Clock, StoreError
from sre.runtime.store.sql import SqlStore
from sre.runtime.store.tx import Tx

log = logging.getLogger(__name__)

CHECKPOINT_EVERY_SECONDS = 5.0
BUSY_TIMEOUT_SECONDS = 5.0


class SqliteBackend:
    """One connection, handed to one thread at a time (SQLite has one writer anyway)."""

    name = "sqlite"
    begin = "BEGIN IMMEDIATE"
    ddl_dialect: Dialect = sqlite_dialect.dialect()
    unavailable: tuple[type[BaseException], ...] = (sqlite3.OperationalError,)
    named_params = True

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_SECONDS
        )
        mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{path}: cannot switch to WAL mode (got {mode})")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA wal_autocheckpoint=0")

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._conn is None:
                raise StoreError("the state store is closed")
            yield self._conn

    def lock_migrations(self, tx: Tx) -> None:
        """``BEGIN IMMEDIATE`` already holds the write lock."""

    def order_outbox(self, tx: Tx) -> None:
        """One writer at a time: rows commit in id order already."""

    def outbox_horizon(self, tx: Tx, after: int) -> int | None:
        return None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                # A clean close leaves the WAL empty: the main file holds everything.
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._conn.close()
                self._conn = None


def open_sqlite(path: str | Path, clock: Clock = time.time, *, exclusive: bool = False) -> SqlStore:
    """Open (creating it and its directory) the state store at ``path``; StoreError if not."""
    path = Path(path)
    lockfile: IO[bytes] | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if exclusive:
            lockfile = _take_lock(path)
        backend = SqliteBackend(path)
    except (OSError, sqlite3.Error) as err:
        if lockfile is not None:
            lockfile.close()
        raise StoreError(f"cannot open the state store {path}: {err}") from None
    checkpoints = _Checkpoints(path)
    hooks = [checkpoints.stop, backend.close]
    if lockfile is not None:
        hooks.append(lockfile.close)  # releases the flock, last
    store = SqlStore(backend, clock, where=str(path), workers=1, on_close=hooks)
    checkpoints.start()
    return store


class _Checkpoints:
    """Every few seconds, a PASSIVE checkpoint on a connection of its own: it copies what it
    can without waiting for, or blocking, the writer."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sre-store-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_SECONDS)
        except sqlite3.Error as err:
            log.warning("state store: no background checkpoints: %s", err)
            return
        try:
            while not self._stop.wait(CHECKPOINT_EVERY_SECONDS):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error as err:
                    log.warning("state store checkpoint failed: %s", err)
        finally:
            conn.close()


def _take_lock(path: Path) -> IO[bytes]:
    """An exclusive, non-blocking flock on ``<path>.lock``; StoreError when someone holds it."""
    handle = path.with_name(path.name + ".lock").open("ab")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StoreError(
            f"the state store {path} is in use by another daemon (one daemon per state file)"
        ) from None
    return handle
