"""The daemon's state store: one SQLite file in WAL mode (``daemon.state``).

This module is the only one that opens it. Schema changes are migrations, versioned per
*component*: each feature owns its tables and calls ``store.migrate("alerts", [...])`` at
start with its own ordered list; the row ``schema_versions(component, version)`` records
how far each got. Adding a feature never edits a central list, and a migration already
applied never runs twice. A database written by a newer daemon (a version above what the
running code knows) is refused rather than guessed at.

Generic tables every feature may use (component ``core``):

* ``cache`` - key/value with expiry (JSON values), e.g. Cost Explorer responses;
* ``outbox`` - work that must reach the outside world, written first, delivered later;
* ``audit`` - append-only records of decisions (rollbacks, actions);
* ``idempotency`` - "done once" keys (``claim``), e.g. one rollback per revision.

Concurrency: one connection, a lock around every call, so there is a single writer. Calls
are short and synchronous; the event loop may call them directly. ``await store.run(fn)``
runs longer work on the store's own single worker thread.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
Clock = Callable[[], float]
Migration = str | Callable[[sqlite3.Connection], None]


CHECKPOINT_EVERY_SECONDS = 5.0


class StoreError(Exception):
    """The state store cannot be opened or migrated (message says why)."""


CORE_MIGRATIONS: tuple[Migration, ...] = (
    """
    CREATE TABLE cache (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        expires_at REAL
    );
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        topic TEXT NOT NULL,
        key TEXT,
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        created_at REAL NOT NULL,
        delivered_at REAL,
        last_error TEXT
    );
    CREATE UNIQUE INDEX outbox_topic_key ON outbox (topic, key) WHERE key IS NOT NULL;
    CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts REAL NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX audit_kind_ts ON audit (kind, ts);
    CREATE TABLE idempotency (
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (scope, key)
    );
    """,
)


@dataclass(frozen=True)
class OutboxItem:
    id: int
    topic: str
    key: str | None
    payload: Any
    status: str  # pending | delivered | failed
    attempts: int
    next_attempt_at: float
    created_at: float
    delivered_at: float | None
    last_error: str | None


@dataclass(frozen=True)
class AuditRecord:
    id: int
    ts: float
    kind: str
    subject: str
    data: Any


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class Store:
    """``exclusive``: the daemon holds an advisory lock (``<state>.lock``) for as long as the
    store is open, so that a second daemon on the same file refuses to start instead of
    delivering the same outbox twice. Readers (the audit CLI) open it without the lock."""

    def __init__(
        self, path: str | Path, clock: Clock = time.time, *, exclusive: bool = False
    ) -> None:
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.RLock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sre-store")
        self._lockfile: IO[bytes] | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if exclusive:
                self._lockfile = _take_lock(self.path)
            self._db: sqlite3.Connection | None = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=5.0
            )
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{self.path}: cannot switch to WAL mode (got {mode})")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            # Checkpoints (copying the WAL into the main file, with an fsync) happen on a
            # thread of their own (see _checkpoints), never inside a commit on the event
            # loop: an automatic checkpoint there stalled webhook answers for 100-300 ms.
            self._db.execute("PRAGMA wal_autocheckpoint=0")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS schema_versions ("
                "component TEXT PRIMARY KEY, version INTEGER NOT NULL, applied_at REAL NOT NULL)"
            )
        except (OSError, sqlite3.Error) as err:
            raise StoreError(f"cannot open the state store {self.path}: {err}") from None
        self.migrate("core", CORE_MIGRATIONS)
        self._stop_checkpoints = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoints, name="sre-store-checkpoint", daemon=True
        )
        self._checkpointer.start()

    # ------------------------------------------------------------------ lifecycle

    @property
    def is_open(self) -> bool:
        return self._db is not None

    def _checkpoints(self) -> None:
        """Every few seconds, a PASSIVE checkpoint on a separate connection: it copies what
        it can without waiting for, or blocking, the writer."""
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=5.0)
        except sqlite3.Error as err:
            log.warning("state store: no background checkpoints: %s", err)
            return
        try:
            while not self._stop_checkpoints.wait(CHECKPOINT_EVERY_SECONDS):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error as err:
                    log.warning("state store checkpoint failed: %s", err)
        finally:
            conn.close()

    def close(self) -> None:
        self._stop_checkpoints.set()
        self._checkpointer.join(timeout=10)
        with self._lock:
            if self._db is not None:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._db.close()
                self._db = None
            if self._lockfile is not None:
                self._lockfile.close()  # releases the flock
                self._lockfile = None
        self._worker.shutdown(wait=True)

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError("the state store is closed")
        return self._db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` .. ``COMMIT`` (rollback on error), under the store lock.

        For a feature's own tables: ``with store.transaction() as db: db.execute(...)``.
        """
        with self._lock:
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the store's single worker thread (for longer work)."""
        return await asyncio.get_running_loop().run_in_executor(self._worker, fn, *args)

    # ------------------------------------------------------------------ migrations

    def version(self, component: str) -> int:
        with self._lock:
            row = self.db.execute(
                "SELECT version FROM schema_versions WHERE component = ?", (component,)
            ).fetchone()
        return int(row[0]) if row else 0

    def migrate(self, component: str, migrations: Sequence[Migration]) -> int:
        """Apply ``migrations[current:]`` in order, each in its own transaction.

        A migration is SQL (one or more statements) or a callable taking the connection.
        Returns the new version. Never reorder or edit a list once shipped: append.
        """
        current = self.version(component)
        if current > len(migrations):
            raise StoreError(
                f"{self.path}: {component} schema is at version {current}, newer than this "
                f"daemon knows ({len(migrations)}); refusing to run an older daemon on it"
            )
        for number, migration in enumerate(migrations[current:], start=current + 1):
            try:
                with self.transaction() as db:
                    if callable(migration):
                        migration(db)
                    else:
                        for statement in _statements(migration):
                            db.execute(statement)
                    db.execute(
                        "INSERT INTO schema_versions (component, version, applied_at) "
                        "VALUES (?, ?, ?) ON CONFLICT(component) DO UPDATE SET "
                        "version = excluded.version, applied_at = excluded.applied_at",
                        (component, number, self.clock()),
                    )
            except sqlite3.Error as err:
                raise StoreError(f"{component} migration {number} failed: {err}") from None
        return len(migrations)

    # ------------------------------------------------------------------ cache

    def cache_get(self, key: str) -> Any | None:
        with self._lock:
            row = self.db.execute(
                "SELECT value FROM cache WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
                (key, self.clock()),
            ).fetchone()
        return json.loads(row[0]) if row else None

    def cache_put(self, key: str, value: Any, ttl: float | None = None) -> None:
        expires = None if ttl is None else self.clock() + ttl
        with self._lock:
            self.db.execute(
                "INSERT INTO cache (key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT(key) "
                "DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
                (key, _dumps(value), expires),
            )

    def cache_purge(self) -> int:
        """Delete expired entries; returns how many."""
        with self._lock:
            cur = self.db.execute(
                "DELETE FROM cache WHERE expires_at IS NOT NULL AND expires_at <= ?",
                (self.clock(),),
            )
        return cur.rowcount

    # ------------------------------------------------------------------ outbox

    def outbox_add(self, topic: str, payload: Any, key: str | None = None) -> int | None:
        """Queue ``payload``; returns its id, or None if ``(topic, key)`` was queued before."""
        now = self.clock()
        with self._lock:
            cur = self.db.execute(
                "INSERT INTO outbox (topic, key, payload, next_attempt_at, created_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (topic, key, _dumps(payload), now, now),
            )
        return cur.lastrowid if cur.rowcount == 1 else None

    def outbox_due(self, topic: str, limit: int = 100) -> list[OutboxItem]:
        """Pending items whose next attempt is due, oldest first."""
        with self._lock:
            rows = self.db.execute(
                "SELECT * FROM outbox WHERE topic = ? AND status = 'pending' "
                "AND next_attempt_at <= ? ORDER BY id LIMIT ?",
                (topic, self.clock(), limit),
            ).fetchall()
        return [_outbox_item(row) for row in rows]

    def outbox_delivered(self, item_id: int) -> None:
        with self._lock:
            self.db.execute(
                "UPDATE outbox SET status = 'delivered', delivered_at = ?, "
                "attempts = attempts + 1, last_error = NULL WHERE id = ?",
                (self.clock(), item_id),
            )

    def outbox_retry(self, item_id: int, error: str, delay: float) -> None:
        with self._lock:
            self.db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, "
                "next_attempt_at = ? WHERE id = ?",
                (error, self.clock() + delay, item_id),
            )

    def outbox_failed(self, item_id: int, error: str) -> None:
        """A permanent error: recorded, never retried."""
        with self._lock:
            self.db.execute(
                "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ? "
                "WHERE id = ?",
                (error, item_id),
            )

    def outbox_pending(self, topic: str | None = None) -> int:
        sql = "SELECT count(*) FROM outbox WHERE status = 'pending'"
        args: tuple[str, ...] = ()
        if topic is not None:
            sql, args = f"{sql} AND topic = ?", (topic,)
        with self._lock:
            return int(self.db.execute(sql, args).fetchone()[0])

    # ------------------------------------------------------------------ audit

    def audit_add(self, kind: str, subject: str, data: Any) -> int:
        with self._lock:
            cur = self.db.execute(
                "INSERT INTO audit (ts, kind, subject, data) VALUES (?, ?, ?, ?)",
                (self.clock(), kind, subject, _dumps(data)),
            )
        return int(cur.lastrowid or 0)

    def audit_list(
        self, kind: str | None = None, subject: str | None = None, limit: int = 100
    ) -> list[AuditRecord]:
        """Newest first."""
        sql = "SELECT id, ts, kind, subject, data FROM audit WHERE 1 = 1"
        args: list[str | int] = []
        if kind is not None:
            sql += " AND kind = ?"
            args.append(kind)
        if subject is not None:
            sql += " AND subject = ?"
            args.append(subject)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self.db.execute(sql, args).fetchall()
        return [AuditRecord(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]

    # ------------------------------------------------------------------ idempotency

    def claim(self, scope: str, key: str) -> bool:
        """True the first time ``(scope, key)`` is claimed, False ever after (restarts too)."""
        with self._lock:
            cur = self.db.execute(
                "INSERT INTO idempotency (scope, key, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (scope, key, self.clock()),
            )
        return cur.rowcount == 1


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (sqlite3.complete_statement aware)."""
    out: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                out.append(current.strip())
            current = ""
    if current.strip():
        out.append(current.strip())
    return out


def _outbox_item(row: tuple[Any, ...]) -> OutboxItem:
    return OutboxItem(
        id=row[0],
        topic=row[1],
        key=row[2],
        payload=json.loads(row[3]),
        status=row[4],
        attempts=row[5],
        next_attempt_at=row[6],
        created_at=row[7],
        delivered_at=row[8],
        last_error=row[9],
    )


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
