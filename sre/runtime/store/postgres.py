"""The PostgreSQL backend: several daemon replicas on one database
(``daemon.state: postgresql://HOST[:PORT]/DBNAME``, docs/ha.md).

* Driver: psycopg 3 with its connection pool. It fits the store as it is (DB-API, a
  transaction on a worker thread behind ``store.run``) and measured no slower than asyncpg
  for the daemon's hottest write, a webhook's transaction (figures in docs/ha.md,
  ``python -m benchmarks.ha.drivers``).
* Credentials only through libpq's environment (``PGUSER``, ``PGPASSWORD``,
  ``PGPASSFILE``, ``PGSSLROOTCERT``...): the config refuses a URL that holds them, and
  :func:`where` never shows one.
* Connections run in autocommit mode and the store sends ``BEGIN`` itself, so a
  transaction is exactly the ``with store.transaction()`` block, at READ COMMITTED. A claim
  (``INSERT ... ON CONFLICT DO NOTHING``) is race-free there: a second replica inserting
  the same key waits for the first to commit and then inserts nothing.
* Migrations take a transaction-scoped advisory lock: when three replicas start together
  one migrates, the others wait and then find the version already there.
* Outbox order: row ids come from a sequence in insert order but transactions commit in
  any order, and delivery reads "items above the last id seen"; an item committed late
  under a smaller id would be skipped. Every outbox insert first takes a *shared*
  advisory lock (writers never wait for each other, so their commits group). A reader
  reads up to the last id with no gap below it. A gap is an insert in flight, or one
  that rolled back (or lost an ``ON CONFLICT``): one still there a second later makes
  the reader take the same lock *exclusively*, which waits for the inserts in flight to
  end (new ones wait for the reader), and then read everything.
* A replica paused inside a transaction (SIGSTOP, a long GC) must not hold its row locks
  for the length of the pause: another replica taking the lease or claiming the same key
  would wait on it. ``idle_in_transaction_session_timeout`` (half a lease) makes the
  server end such a session and roll its transaction back; the store's own transactions
  never wait on anything but the database.
* A failed database (restart, failover, a full disk, too many connections) raises
  ``psycopg.OperationalError``: the store turns it into ``StoreUnavailable`` (a webhook
  gets 503). The pool replaces a broken connection; one the server closed while it sat
  idle is found before use (:func:`_check_idle`) instead of failing a transaction.
"""

from __future__ import annotations

import hashlib
import logging
import select
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import ConnStatus
from psycopg_pool import ConnectionPool
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.engine import Dialect

from sre.runtime.store.contract import Clock, StoreError
from sre.runtime.store.sql import SqlStore
from sre.runtime.store.tx import Tx

log = logging.getLogger(__name__)

WORKERS = 8  # threads running store.run(): webhooks, delivery and jobs share them
SPARE_CONNECTIONS = 2  # for threads of their own (the lease heartbeat)
POOL_TIMEOUT_SECONDS = 5.0  # waiting for a connection: then 503, not a stalled request
CONNECT_TIMEOUT_SECONDS = 5.0
IDLE_IN_TRANSACTION_SECONDS = 7.5  # half the default lease (daemon.ha.lease_duration)
# libpq defaults unless the URL sets them: give up on a silent peer (a partition) in
# about ten seconds instead of the kernel's two hours.
DEFAULTS = {
    "application_name": "sre-daemon",
    "connect_timeout": "5",
    "keepalives": "1",
    "keepalives_idle": "5",
    "keepalives_interval": "2",
    "keepalives_count": "3",
    "tcp_user_timeout": "10000",
}


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_xact_lock``."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


GAP_GRACE_SECONDS = 1.0  # a missing outbox id younger than this is an insert in flight
# The lowest missing id above :after (``after`` itself counts as present).
FIRST_GAP = (
    "SELECT min(o.id) + 1 FROM (SELECT :after AS id UNION ALL SELECT id FROM outbox "
    "WHERE id > :after) o WHERE NOT EXISTS (SELECT 1 FROM outbox n WHERE n.id = o.id + 1)"
)
MIGRATIONS_LOCK = advisory_key("sre:migrations")
OUTBOX_LOCK = advisory_key("sre:outbox-insert")


def where(url: str) -> str:
    """``postgresql://host:port/db`` for logs: never a user, password or parameter."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(unparsable URL)"
    host, port = parts.get("host", "localhost"), parts.get("port", "5432")
    return f"postgresql://{host}:{port}/{parts.get('dbname', '')}"


def _check_idle(conn: psycopg.Connection[Any]) -> None:
    """Raise when the server closed this idle connection (a restart sends its notice and
    EOF): the pool then discards it and hands out another."""
    readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    if readable:
        conn.pgconn.consume_input()  # raises OperationalError on EOF
        if conn.pgconn.status != ConnStatus.OK:
            raise psycopg.OperationalError("the server closed the connection")


class PostgresBackend:
    name = "postgresql"
    begin = "BEGIN"
    ddl_dialect: Dialect = pg_dialect.dialect()  # type: ignore[no-untyped-call]
    unavailable: tuple[type[BaseException], ...] = (
        psycopg.OperationalError,  # lost connection, restart, pool timeout, deadlock, full disk
        pg_errors.ReadOnlySqlTransaction,  # connected to a standby after a failover
        pg_errors.IdleInTransactionSessionTimeout,  # this process was paused mid-transaction
    )
    named_params = False

    def __init__(self, url: str, *, size: int, idle_in_transaction: float) -> None:
        self._gaps: dict[int, float] = {}  # a missing outbox id -> when first seen
        extra = {k: v for k, v in DEFAULTS.items() if k not in conninfo_to_dict(url)}
        self.connect_args: dict[str, Any] = {"autocommit": True, **extra}
        self.idle_ms = max(1, round(idle_in_transaction * 1000))
        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            kwargs=self.connect_args,
            min_size=size,
            max_size=size,
            timeout=POOL_TIMEOUT_SECONDS,
            check=_check_idle,
            configure=self._configure,
            open=False,
            name="sre-state",
        )

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(f"SET idle_in_transaction_session_timeout = {self.idle_ms}")

    def open(self) -> None:
        self.pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        with self.pool.connection() as conn:
            yield conn

    def lock_migrations(self, tx: Tx) -> None:
        tx.execute("SELECT pg_advisory_xact_lock(:key)", {"key": MIGRATIONS_LOCK})

    def order_outbox(self, tx: Tx) -> None:
        tx.execute("SELECT pg_advisory_xact_lock_shared(:key)", {"key": OUTBOX_LOCK})

    def outbox_horizon(self, tx: Tx, after: int) -> int | None:
        found = tx.one(
            "SELECT count(*) AS n, max(id) AS top FROM outbox WHERE id > :after", {"after": after}
        )
        if found is None or not found["n"]:
            return after  # nothing above: read nothing (what commits now comes next time)
        top = int(found["top"])
        if int(found["n"]) == top - after:
            return top  # no gap: no id up to top can still appear
        gap = int(tx.scalar(FIRST_GAP, {"after": after}))
        now = time.monotonic()
        for old in [g for g in self._gaps if g <= after]:
            del self._gaps[old]
        if now - self._gaps.setdefault(gap, now) < GAP_GRACE_SECONDS:
            return gap - 1  # most likely an insert about to commit: read below it for now
        # Old enough to be a rolled-back insert (or a slow one): wait for what is in
        # flight, new inserts wait for this reader; then everything below is settled.
        tx.execute("SELECT pg_advisory_xact_lock(:key)", {"key": OUTBOX_LOCK})
        return None

    def close(self) -> None:
        self.pool.close(timeout=5.0)


def open_postgres(
    url: str,
    clock: Clock = time.time,
    *,
    workers: int = WORKERS,
    idle_in_transaction: float = IDLE_IN_TRANSACTION_SECONDS,
) -> SqlStore:
    """The state store in the database ``url`` names; StoreError when it cannot be
    reached or migrated (the reason from libpq, never a credential). A transaction idle
    for ``idle_in_transaction`` seconds (its process paused) is ended by the server."""
    shown = where(url)
    try:
        backend = PostgresBackend(
            url, size=workers + SPARE_CONNECTIONS, idle_in_transaction=idle_in_transaction
        )
    except psycopg.ProgrammingError as err:
        raise StoreError(f"cannot open the state store {shown}: {err}") from None
    try:
        # One connection first, for libpq's own reason when it fails (the pool only says
        # it timed out): refused, unknown host, authentication, no such database.
        psycopg.connect(url, **backend.connect_args).close()
        backend.open()
    except psycopg.OperationalError as err:
        backend.close()
        reason = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise StoreError(
            f"cannot open the state store {shown}: {reason} (libpq takes the user and "
            "password from PGUSER and PGPASSWORD or PGPASSFILE)"
        ) from None
    return SqlStore(backend, clock, where=shown, workers=workers, on_close=[backend.close])
