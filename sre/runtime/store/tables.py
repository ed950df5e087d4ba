"""The core tables every feature shares through the store's typed operations.

Declared once as SQLAlchemy ``Table`` objects so that the same definition creates the right
DDL on SQLite and on PostgreSQL (identity columns, floating-point times, partial indexes).
"""

from __future__ import annotations

import sqlalchemy as sa

from sre.runtime.store.contract import Tx

# Row ids: INTEGER PRIMARY KEY AUTOINCREMENT on SQLite (never reused, unlike a plain rowid:
# delivery remembers which item it applied), a 64-bit identity on PostgreSQL.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Epoch seconds. sa.Float is double precision on both backends (PostgreSQL's REAL is not).
TIME = sa.Float(precision=53)

metadata = sa.MetaData()

schema_versions = sa.Table(
    "schema_versions",
    metadata,
    sa.Column("component", sa.Text, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("applied_at", TIME, nullable=False),
)

cache = sa.Table(
    "cache",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("expires_at", TIME),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("key", sa.Text),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", TIME, nullable=False),
    sa.Column("created_at", TIME, nullable=False),
    sa.Column("delivered_at", TIME),
    sa.Column("last_error", sa.Text),
    sqlite_autoincrement=True,
)
sa.Index(
    "outbox_topic_key",
    outbox.c.topic,
    outbox.c.key,
    unique=True,
    sqlite_where=outbox.c.key.isnot(None),
    postgresql_where=outbox.c.key.isnot(None),
)
sa.Index("outbox_due", outbox.c.status, outbox.c.next_attempt_at)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("ts", TIME, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sqlite_autoincrement=True,
)
sa.Index("audit_kind_ts", audit.c.kind, audit.c.ts)

idempotency = sa.Table(
    "idempotency",
    metadata,
    sa.Column("scope", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("created_at", TIME, nullable=False),
)

CORE_TABLES = [cache, outbox, audit, idempotency]


def create_core(tx: Tx) -> None:
    """Core migration 1."""
    tx.create(*CORE_TABLES)
