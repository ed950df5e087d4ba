"""The store contract (``contract.Store``) on a SQL database through its DB-API driver.

Backends differ only in a :class:`Backend` (how to get a connection, how a transaction
begins, which driver errors mean "the storage failed"); everything else runs here, as SQL
text both SQLite (>= 3.35) and PostgreSQL speak.

Why not SQLAlchemy Core for the queries: measured here, a webhook's transaction (two
claims and an outbox row) took 847 us through SQLAlchemy's execution layer against 289 us
on the driver directly, and that is the daemon's hottest write. SQLAlchemy stays for what
it does best: the same ``Table`` declarations compile to each dialect's DDL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from sre.runtime.store.contract import (
    AuditRecord,
    Clock,
    Migration,
    OutboxItem,
    Row,
    StoreError,
    StoreUnavailable,
    iter_statements,
)
from sre.runtime.store.statements import (
    AUDIT_ADD,
    AUDIT_COLUMNS,
    CACHE_GET,
    CACHE_PURGE,
    CACHE_PUT,
    CLAIM,
    CLAIMED,
    FORGET,
    OUTBOX_ADD,
    OUTBOX_COUNT,
    OUTBOX_COUNT_TOPIC,
    OUTBOX_DELIVERED,
    OUTBOX_FAILED,
    OUTBOX_PENDING,
    OUTBOX_PENDING_UPTO,
    OUTBOX_PRUNE,
    OUTBOX_RETRY,
    OUTBOX_SENDING,
    PROBE_BYTES,
    PROBE_KEY,
    PROBE_UNDO,
    PROBE_WRITE,
    SET_VERSION,
    TOUCH,
    UNCLAIM,
    VERSION,
)
from sre.runtime.store.tables import create_core, outbox_sending_at, schema_versions
from sre.runtime.store.tx import Backend, Tx

log = logging.getLogger(__name__)

T = TypeVar("T")
CORE_MIGRATIONS: tuple[Migration, ...] = (create_core, outbox_sending_at)


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def outbox_item(row: Row) -> OutboxItem:
    return OutboxItem(
        id=int(row["id"]),
        topic=row["topic"],
        key=row["key"],
        payload=json.loads(row["payload"]),
        status=row["status"],
        attempts=int(row["attempts"]),
        next_attempt_at=float(row["next_attempt_at"]),
        created_at=float(row["created_at"]),
        delivered_at=row["delivered_at"],
        last_error=row["last_error"],
        sending_at=row["sending_at"],
    )


def audit_record(row: Row) -> AuditRecord:
    return AuditRecord(
        int(row["id"]), float(row["ts"]), row["kind"], row["subject"], json.loads(row["data"])
    )


class SqlStore:
    """See ``contract.Store``. ``workers``: threads that run ``run()`` calls (SQLite has one
    writer, so one; a server database may take more)."""

    def __init__(
        self,
        backend: Backend,
        clock: Clock,
        *,
        where: str,
        workers: int = 1,
        on_close: Sequence[Callable[[], None]] = (),
    ) -> None:
        self.backend = backend
        self.clock = clock
        self._where = where
        self._local = threading.local()
        self._worker = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sre-store")
        self._on_close = list(on_close)
        self._open = True
        self._write_failed: str | None = None  # why the last write failed, until one passes
        try:
            with self.transaction() as tx:
                self.backend.lock_migrations(tx)  # concurrent CREATE TABLE can clash
                tx.create(schema_versions)
            self.migrate("core", CORE_MIGRATIONS)
        except (StoreUnavailable, StoreError) as err:
            self.close()
            raise StoreError(f"cannot open the state store {where}: {err}") from None

    # ------------------------------------------------------------------ lifecycle

    @property
    def where(self) -> str:
        return self._where

    @property
    def is_open(self) -> bool:
        return self._open

    def close(self) -> None:
        if not self._open:
            return
        self._open = False
        self._worker.shutdown(wait=True)
        for hook in self._on_close:
            try:
                hook()
            except Exception as err:  # closing must finish: report, carry on
                log.warning("state store: closing %s: %s", self._where, err)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One transaction; typed operations called inside it on this thread join it."""
        current: Tx | None = getattr(self._local, "tx", None)
        if current is not None:
            yield current
            return
        if not self._open:
            raise StoreError("the state store is closed")
        try:
            with self.backend.connection() as conn:
                tx = Tx(conn, self.backend)
                cursor = conn.cursor()
                cursor.execute(self.backend.begin)
                cursor.close()
                self._local.tx = tx
                try:
                    yield tx
                except BaseException:
                    self._local.tx = None
                    conn.rollback()
                    raise
                self._local.tx = None
                conn.commit()
                if tx.wrote and not tx.probe:
                    self._write_failed = None
        except self.backend.unavailable as err:
            # The storage failed (full disk, lost connection, locked): nothing was written.
            self._write_failed = _reason(err)
            raise StoreUnavailable(_reason(err)) from None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the store's worker thread: the event loop never waits on I/O."""
        if not self._open:
            raise StoreError("the state store is closed")
        return await asyncio.get_running_loop().run_in_executor(self._worker, fn, *args)

    def writable(self) -> str | None:
        """Why the store cannot take writes now, or None.

        Normally a one-row touch. After a real write failed (a webhook's, on a full disk,
        where the touch alone can still pass), a write the size of a large webhook, undone
        in the same transaction: ready again as soon as that fits."""
        if not self._open:
            return "state store closed"
        failed = self._write_failed is not None
        try:
            with self.transaction() as tx:
                tx.probe = not failed
                tx.execute(TOUCH)
                if failed:
                    params = {"key": PROBE_KEY, "value": "x" * PROBE_BYTES}
                    tx.execute(PROBE_WRITE, params)
                    tx.execute(PROBE_UNDO, {"key": PROBE_KEY})
        except (StoreUnavailable, StoreError) as err:
            return f"state store not writable: {err}"
        return None

    # ------------------------------------------------------------------ migrations

    def version(self, component: str) -> int:
        with self.transaction() as tx:
            return int(tx.scalar(VERSION, {"component": component}) or 0)

    def migrate(self, component: str, migrations: Sequence[Migration]) -> int:
        """Apply ``migrations[current:]`` in order, each in its own transaction; return the
        new version. Never reorder or edit a shipped list: append."""
        current = self.version(component)
        if current > len(migrations):
            raise StoreError(
                f"{self._where}: {component} schema is at version {current}, newer than this "
                f"daemon knows ({len(migrations)}); refusing to run an older daemon on it"
            )
        for number, migration in enumerate(migrations[current:], start=current + 1):
            try:
                with self.transaction() as tx:
                    self.backend.lock_migrations(tx)
                    if int(tx.scalar(VERSION, {"component": component}) or 0) >= number:
                        continue  # another replica applied it while we waited
                    if callable(migration):
                        migration(tx)
                    else:
                        for statement in iter_statements(migration):
                            tx.execute(statement)
                    tx.execute(SET_VERSION, {"c": component, "v": number, "t": self.clock()})
            except StoreUnavailable as err:
                raise StoreError(f"{component} migration {number} failed: {err}") from None
            except Exception as err:  # a driver's programming error: the SQL is wrong
                reason = _reason(err)
                raise StoreError(f"{component} migration {number} failed: {reason}") from None
        return len(migrations)

    # ------------------------------------------------------------------ idempotency

    def claim(self, scope: str, key: str) -> bool:
        """True the first time ``(scope, key)`` is claimed, False ever after."""
        with self.transaction() as tx:
            return tx.execute(CLAIM, {"scope": scope, "key": key, "now": self.clock()}) == 1

    def claimed(self, scope: str, key: str) -> bool:
        with self.transaction() as tx:
            return tx.one(CLAIMED, {"scope": scope, "key": key}) is not None

    def forget_claims(self, scope: str, older_than: float) -> int:
        with self.transaction() as tx:
            return tx.execute(FORGET, {"scope": scope, "before": self.clock() - older_than})

    def unclaim(self, scope: str, key: str) -> bool:
        with self.transaction() as tx:
            return tx.execute(UNCLAIM, {"scope": scope, "key": key}) == 1

    # ------------------------------------------------------------------ outbox

    def outbox_add(self, topic: str, payload: Any, key: str | None = None) -> int | None:
        """Queue ``payload``; its id, or None when ``(topic, key)`` was queued before."""
        params = {"topic": topic, "key": key, "payload": dumps(payload), "now": self.clock()}
        with self.transaction() as tx:
            self.backend.order_outbox(tx)
            found = tx.scalar(OUTBOX_ADD, params)
        return None if found is None else int(found)

    def outbox_pending(
        self, topics: Sequence[str], limit: int = 1000, after: int = 0
    ) -> list[OutboxItem]:
        """Pending items of ``topics`` with an id above ``after``, due or not, oldest first."""
        params = {"topics": list(topics), "limit": limit, "after": after}
        with self.transaction() as tx:
            # Callers ask next for ids above the last one returned: every id below it
            # must have committed (or failed) by now, or a late commit would be skipped.
            top = self.backend.outbox_horizon(tx, after)
            if top is None:
                rows = tx.all(OUTBOX_PENDING, params)
            else:
                rows = tx.all(OUTBOX_PENDING_UPTO, {**params, "top": top})
        return [outbox_item(row) for row in rows]

    def outbox_sending(self, item_id: int) -> None:
        with self.transaction() as tx:
            tx.execute(OUTBOX_SENDING, {"id": item_id, "now": self.clock()})

    def outbox_delivered(self, item_id: int) -> None:
        with self.transaction() as tx:
            tx.execute(OUTBOX_DELIVERED, {"id": item_id, "now": self.clock()})

    def outbox_retry(
        self, item_id: int, error: str, delay: float, *, maybe_sent: bool = False
    ) -> None:
        params = {"id": item_id, "error": error, "at": self.clock() + delay}
        with self.transaction() as tx:
            tx.execute(OUTBOX_RETRY, {**params, "maybe_sent": int(maybe_sent)})

    def outbox_failed(self, item_id: int, error: str) -> None:
        """A permanent error: recorded, never retried."""
        with self.transaction() as tx:
            tx.execute(OUTBOX_FAILED, {"id": item_id, "error": error})

    def outbox_count(self, topic: str | None = None) -> int:
        """Pending items (of ``topic``)."""
        with self.transaction() as tx:
            if topic is None:
                return int(tx.scalar(OUTBOX_COUNT))
            return int(tx.scalar(OUTBOX_COUNT_TOPIC, {"t": topic}))

    def outbox_prune(self, topics: Sequence[str], delivered_before: float) -> int:
        with self.transaction() as tx:
            return tx.execute(OUTBOX_PRUNE, {"topics": list(topics), "before": delivered_before})

    # ------------------------------------------------------------------ audit

    def audit_add(self, kind: str, subject: str, data: Any) -> int:
        params = {"ts": self.clock(), "kind": kind, "subject": subject, "data": dumps(data)}
        with self.transaction() as tx:
            return int(tx.scalar(AUDIT_ADD, params))

    def audit_list(
        self, kind: str | None = None, subject: str | None = None, limit: int = 100
    ) -> list[AuditRecord]:
        """Newest first."""
        where = []
        params: dict[str, Any] = {"limit": limit}
        if kind is not None:
            where.append("kind = :kind")
            params["kind"] = kind
        if subject is not None:
            where.append("subject = :subject")
            params["subject"] = subject
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        query = f"SELECT {AUDIT_COLUMNS} FROM audit {clause}ORDER BY id DESC LIMIT :limit"
        with self.transaction() as tx:
            rows = tx.all(query, params)
        return [
            AuditRecord(
                int(r["id"]), float(r["ts"]), r["kind"], r["subject"], json.loads(r["data"])
            )
            for r in rows
        ]

    # ------------------------------------------------------------------ cache

    def cache_get(self, key: str) -> Any | None:
        with self.transaction() as tx:
            found = tx.scalar(CACHE_GET, {"key": key, "now": self.clock()})
        return None if found is None else json.loads(found)

    def cache_put(self, key: str, value: Any, ttl: float | None = None) -> None:
        expires = None if ttl is None else self.clock() + ttl
        with self.transaction() as tx:
            tx.execute(CACHE_PUT, {"key": key, "value": dumps(value), "expires": expires})

    def cache_purge(self) -> int:
        """Delete expired entries; returns how many."""
        with self.transaction() as tx:
            return tx.execute(CACHE_PURGE, {"now": self.clock()})


def _reason(err: BaseException) -> str:
    """The driver's own message, first line."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
