"""The HA tables (component ``ha``) and the one transaction each replica runs per beat.

* ``ha_replicas``: one row per running replica (its id is unique per process): when it was
  last heard of, until when it counts as live, and its membership *generation*, which
  grows each time the replica comes back after its row expired.
* ``ha_lease``: one row, ``leader``: who holds the lease, its *epoch* (grows with every
  new holder, and when a holder comes back after its lease expired), until when.

Times are the database's clock, not the replicas' (their clocks may disagree); on
PostgreSQL the statement time, on SQLite (tests, one process) the system clock.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from sre.runtime.store.contract import Tx
from sre.runtime.store.tables import TIME

COMPONENT = "ha"
LEASE = "leader"
NOW = {
    "postgresql": "SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8",
    "sqlite": "SELECT (julianday('now') - 2440587.5) * 86400.0",
}
FORGET_AFTER_SECONDS = 3600.0  # an expired replica's row is deleted after this

tables = sa.MetaData()
replicas = sa.Table(
    "ha_replicas",
    tables,
    sa.Column("replica", sa.Text, primary_key=True),
    sa.Column("generation", sa.BigInteger, nullable=False),
    sa.Column("started_at", TIME, nullable=False),
    sa.Column("heartbeat_at", TIME, nullable=False),
    sa.Column("expires_at", TIME, nullable=False),
)
lease = sa.Table(
    "ha_lease",
    tables,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("holder", sa.Text, nullable=False),
    sa.Column("epoch", sa.BigInteger, nullable=False),
    sa.Column("acquired_at", TIME, nullable=False),
    sa.Column("expires_at", TIME, nullable=False),
)


def _create(tx: Tx) -> None:
    tx.create(replicas, lease)
    tx.execute(
        "INSERT INTO ha_lease (name, holder, epoch, acquired_at, expires_at) "
        "VALUES (:name, '', 0, 0, 0) ON CONFLICT DO NOTHING",
        {"name": LEASE},
    )


MIGRATIONS = (_create,)

HEARTBEAT = (
    "INSERT INTO ha_replicas (replica, generation, started_at, heartbeat_at, expires_at) "
    "VALUES (:me, 1, :now, :now, :until) ON CONFLICT (replica) DO UPDATE SET "
    "generation = CASE WHEN ha_replicas.expires_at > :now THEN ha_replicas.generation "
    "ELSE ha_replicas.generation + 1 END, heartbeat_at = :now, expires_at = :until "
    "RETURNING generation"
)
# Renew (same epoch while unexpired) or take over an expired lease (a new epoch).
TAKE = (
    "UPDATE ha_lease SET "
    "epoch = CASE WHEN holder = :me AND expires_at > :now THEN epoch ELSE epoch + 1 END, "
    "acquired_at = CASE WHEN holder = :me AND expires_at > :now THEN acquired_at ELSE :now END, "
    "holder = :me, expires_at = :until "
    "WHERE name = :name AND (holder = :me OR expires_at <= :now) RETURNING epoch"
)
CURRENT = "SELECT holder, epoch, expires_at FROM ha_lease WHERE name = :name"
LIVE = "SELECT replica FROM ha_replicas WHERE expires_at > :now ORDER BY replica"
FORGET = "DELETE FROM ha_replicas WHERE expires_at < :before"
LEAVE = "DELETE FROM ha_replicas WHERE replica = :me"
RELEASE = "UPDATE ha_lease SET expires_at = 0 WHERE name = :name AND holder = :me"
HOLDS_LEASE = (
    "SELECT 1 FROM ha_lease WHERE name = :name AND holder = :me AND epoch = :epoch "
    "AND expires_at > :now"
)
HOLDS_MEMBERSHIP = (
    "SELECT 1 FROM ha_replicas WHERE replica = :me AND generation = :generation "
    "AND expires_at > :now"
)


@dataclass(frozen=True)
class Beat:
    """What one heartbeat found."""

    generation: int  # this replica's membership generation
    epoch: int | None  # the lease epoch this replica holds, None when another holds it
    holder: str  # who holds the lease ("" when nobody ever did)
    lease_epoch: int  # the lease's epoch, whoever holds it
    live: tuple[str, ...]  # replicas whose rows are unexpired, sorted, this one included


def db_now(tx: Tx) -> float:
    return float(tx.scalar(NOW[tx.dialect]))


def beat(tx: Tx, me: str, *, member_ttl: float, lease: float | None) -> Beat:
    """Heartbeat, and (``lease`` seconds given) renew or try to take the lease."""
    now = db_now(tx)
    generation = int(tx.scalar(HEARTBEAT, {"me": me, "now": now, "until": now + member_ttl}))
    epoch = None
    if lease is not None:
        params = {"me": me, "now": now, "until": now + lease, "name": LEASE}
        taken = tx.scalar(TAKE, params)
        epoch = None if taken is None else int(taken)
    row = tx.one(CURRENT, {"name": LEASE})
    holder, lease_epoch = (str(row["holder"]), int(row["epoch"])) if row else ("", 0)
    live = tuple(str(r["replica"]) for r in tx.all(LIVE, {"now": now}))
    if epoch is not None:  # the leader keeps the table short
        tx.execute(FORGET, {"before": now - FORGET_AFTER_SECONDS})
    return Beat(generation, epoch, holder, lease_epoch, live)


def leave(tx: Tx, me: str) -> None:
    """A clean stop: drop out of the membership and hand the lease back at once."""
    tx.execute(LEAVE, {"me": me})
    tx.execute(RELEASE, {"name": LEASE, "me": me})


def holds_lease(tx: Tx, me: str, epoch: int) -> bool:
    """True while ``me`` holds the lease at ``epoch``; on PostgreSQL the row stays share-
    locked until the transaction ends, so no one can take the lease before the claim that
    asked commits."""
    lock = " FOR SHARE" if tx.dialect == "postgresql" else ""
    params = {"name": LEASE, "me": me, "epoch": epoch, "now": db_now(tx)}
    return tx.one(HOLDS_LEASE + lock, params) is not None


def holds_membership(tx: Tx, me: str, generation: int) -> bool:
    lock = " FOR SHARE" if tx.dialect == "postgresql" else ""
    params = {"me": me, "generation": generation, "now": db_now(tx)}
    return tx.one(HOLDS_MEMBERSHIP + lock, params) is not None
