"""The state store: a contract (``contract.py``) and its backends (``sqlite.py`` for one
daemon, ``postgres.py`` for several replicas).

``open_store(cfg.daemon, clock)`` picks the backend from the scheme of ``daemon.state``.
"""

from __future__ import annotations

import time

from sre.config import DaemonConfig
from sre.runtime.store.contract import (
    AuditRecord,
    Clock,
    Migration,
    OutboxItem,
    Store,
    StoreError,
    StoreUnavailable,
)
from sre.runtime.store.sqlite import open_sqlite

__all__ = [
    "AuditRecord",
    "Migration",
    "OutboxItem",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "open_store",
]


def open_store(daemon: DaemonConfig, clock: Clock = time.time, *, exclusive: bool = False) -> Store:
    """The store ``daemon.state`` names; :class:`StoreError` when it cannot be opened.
    ``exclusive``: one daemon per SQLite file (replicas share a PostgreSQL database)."""
    if daemon.shared_state:
        from sre.runtime.store.postgres import open_postgres  # psycopg only when used

        return open_postgres(
            daemon.state, clock, idle_in_transaction=daemon.ha.lease_duration.seconds / 2
        )
    return open_sqlite(daemon.state_path, clock, exclusive=exclusive)
