"""The state store's contract: what every feature may rely on, whatever the backend.

A backend (SQLite today; PostgreSQL for several replicas) implements :class:`Store`. The
contract tests (``tests/unit/test_store_contract.py``) run against every backend.

Rules for users of the store:

* A feature owns its tables: it declares them (SQLAlchemy ``Table`` objects, so the DDL is
  dialect-neutral), creates them with ``store.migrate("<feature>", [...])`` and reads and
  writes them only through its own ``state.py``. No feature touches another's tables or
  the core ones below except through these typed operations.
* Queries are SQL text both backends speak: ``:name`` parameters (a list value expands to
  ``(:a_0, :a_1, ...)`` for ``IN``), ``INSERT ... ON CONFLICT ... DO UPDATE/NOTHING``,
  ``RETURNING``; rows are read by column name. Nothing else dialect-specific.
* ``with store.transaction() as tx:`` groups statements (``tx.execute(sql, params)``) and
  the typed operations called inside it on the same thread join it: a claim and the outbox
  row it guards commit together or not at all.
* Every operation is blocking. Async code calls ``await store.run(fn, *args)`` so that the
  event loop never waits on the disk or the network.
* A failure of the storage itself (a full disk, a lost connection) raises
  :class:`StoreUnavailable`: retry later, never mark work as permanently failed for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy import Table

T = TypeVar("T")
Clock = Callable[[], float]
Row = Mapping[str, Any]


class Tx(Protocol):
    """One transaction: run SQL (``:name`` parameters), read rows by column name."""

    dialect: str  # "sqlite" | "postgresql"

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> int:
        """Run a statement; the number of rows it changed."""
        ...

    def all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]: ...
    def one(self, sql: str, params: Mapping[str, Any] | None = None) -> Row | None: ...
    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any: ...
    def create(self, *tables: Table) -> None:
        """Create tables (and their indexes) declared as SQLAlchemy ``Table`` objects."""
        ...


# A migration: portable SQL text (statements ending in ``;``) or a callable given the
# transaction, e.g. ``lambda tx: tx.create(my_table)``.
Migration = str | Callable[[Tx], None]


class StoreError(Exception):
    """The store cannot be opened or migrated (the daemon cannot start; the message says why)."""


class StoreUnavailable(Exception):
    """An operation failed because the storage failed (full disk, lost connection, locked):
    nothing was written. Retry later."""


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
    # Set when a delivery began that may have reached the outside world (a post sent, no
    # answer yet): the next attempt first finds out whether it did (at most once).
    sending_at: float | None = None


@dataclass(frozen=True)
class AuditRecord:
    id: int
    ts: float
    kind: str
    subject: str
    data: Any


class Store(Protocol):
    """The operations features use. See the module docstring for the rules."""

    clock: Clock

    @property
    def where(self) -> str:
        """Where the state lives, for logs (never a password)."""
        ...

    @property
    def is_open(self) -> bool: ...

    def close(self) -> None: ...

    # --- transactions, threads, schema
    def transaction(self) -> AbstractContextManager[Tx]: ...
    async def run(self, fn: Callable[..., T], *args: Any) -> T: ...
    def migrate(self, component: str, migrations: Sequence[Migration]) -> int: ...
    def version(self, component: str) -> int: ...
    def writable(self) -> str | None:
        """None when a write goes through now, else why not (for ``/readyz``)."""
        ...

    # --- idempotency: a key is claimed once, ever (restarts and replicas too)
    def claim(self, scope: str, key: str) -> bool: ...
    def claimed(self, scope: str, key: str) -> bool: ...
    def forget_claims(self, scope: str, older_than: float) -> int: ...
    def unclaim(self, scope: str, key: str) -> bool:
        """Withdraw a claim whose work never happened; True when there was one."""
        ...

    # --- outbox: work for the outside world, written first, delivered from here
    def outbox_add(self, topic: str, payload: Any, key: str | None = None) -> int | None: ...
    def outbox_pending(
        self, topics: Sequence[str], limit: int = 1000, after: int = 0
    ) -> list[OutboxItem]:
        """Pending items of ``topics`` above ``after``, oldest first. No item can still
        appear below the last one returned (ask again with ``after`` = its id); while an
        insert by another replica is in flight, items above it wait for the next call."""
        ...

    def outbox_sending(self, item_id: int) -> None:
        """Record, before it starts, that a delivery may reach the outside world."""
        ...

    def outbox_delivered(self, item_id: int) -> None: ...
    def outbox_retry(
        self, item_id: int, error: str, delay: float, *, maybe_sent: bool = False
    ) -> None:
        """Try again after ``delay``; ``maybe_sent``: the attempt may have arrived (keep the
        sending mark, so the next attempt checks first)."""
        ...

    def outbox_failed(self, item_id: int, error: str) -> None: ...
    def outbox_count(self, topic: str | None = None) -> int: ...
    def outbox_prune(self, topics: Sequence[str], delivered_before: float) -> int: ...

    # --- audit trail
    def audit_add(self, kind: str, subject: str, data: Any) -> int: ...
    def audit_list(
        self, kind: str | None = None, subject: str | None = None, limit: int = 100
    ) -> list[AuditRecord]: ...

    # --- cache of answers from outside systems
    def cache_get(self, key: str) -> Any | None: ...
    def cache_put(self, key: str, value: Any, ttl: float | None = None) -> None: ...
    def cache_purge(self) -> int: ...


def iter_statements(script: str) -> Iterator[str]:
    """Split portable migration SQL on ``;`` at line ends (no procedural bodies here)."""
    current: list[str] = []
    for line in script.splitlines():
        current.append(line)
        if line.rstrip().endswith(";"):
            statement = "\n".join(current).strip().rstrip(";").strip()
            if statement:
                yield statement
            current = []
    rest = "\n".join(current).strip()
    if rest:
        yield rest
