"""The heartbeat feature's own table in the state store (component ``heartbeat``).

``heartbeat_state`` holds one row per watched heartbeat (today one, ``watchdog``): when the
last one arrived, how many arrived, whether it is missing now, and how many outages were
declared (the outage number names the notices and PagerDuty's ``dedup_key``). It survives
restarts: a restart neither forgets the last heartbeat nor announces an outage twice.

Both transitions are compare-and-set updates, so that of several replicas sharing the store
exactly one makes each, and each writes what it announces (the notice, the PagerDuty event)
into the outbox in the same transaction: the state change and its announcement commit
together or not at all. Every method is a coroutine: the SQL runs on the store's thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from sre.runtime.store import Store
from sre.runtime.store.contract import Row, Tx
from sre.runtime.store.tables import TIME

tables = sa.MetaData()
heartbeat_state = sa.Table(
    "heartbeat_state",
    tables,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("last_seen", TIME),
    sa.Column("beats", sa.BigInteger, nullable=False),
    sa.Column("missing", sa.Integer, nullable=False),
    sa.Column("outages", sa.Integer, nullable=False),
    sa.Column("missing_since", TIME),
)


def _create(tx: Tx) -> None:
    tx.create(heartbeat_state)


MIGRATIONS = (_create,)

COLUMNS = "last_seen, beats, missing, outages, missing_since"
SELECT = f"SELECT {COLUMNS} FROM heartbeat_state WHERE name = :name"
ENSURE = (
    "INSERT INTO heartbeat_state (name, beats, missing, outages) VALUES (:name, 0, 0, 0) "
    "ON CONFLICT (name) DO NOTHING"
)
# Ends an outage: only the first heartbeat after it matches (one replica wins).
END_OUTAGE = "UPDATE heartbeat_state SET missing = 0 WHERE name = :name AND missing = 1"
BEAT = (
    "UPDATE heartbeat_state SET beats = beats + 1, last_seen = CASE "
    "WHEN last_seen IS NULL OR last_seen < :now THEN :now ELSE last_seen END "
    "WHERE name = :name"
)
# Declares an outage, if nothing changed since the caller looked (no heartbeat came, and no
# other replica declared it first).
DECLARE = (
    "UPDATE heartbeat_state SET missing = 1, outages = outages + 1, missing_since = :now "
    "WHERE name = :name AND missing = 0 AND outages = :outages "
    "AND COALESCE(last_seen, -1) = :seen"
)


@dataclass(frozen=True)
class Status:
    last_seen: float | None  # None: never, as far as the store knows
    beats: int
    missing: bool
    outages: int  # outages declared so far; the current one's number when missing
    missing_since: float | None


# Called inside the transition's transaction to queue what it announces.
Announce = Callable[[Status], None]


def _status(row: Row | None) -> Status:
    if row is None:
        return Status(None, 0, False, 0, None)
    return Status(
        row["last_seen"],
        int(row["beats"]),
        bool(row["missing"]),
        int(row["outages"]),
        row["missing_since"],
    )


class HeartbeatState:
    def __init__(self, store: Store, name: str = "watchdog") -> None:
        self.store = store
        self.name = name
        store.migrate("heartbeat", MIGRATIONS)

    async def status(self) -> Status:
        return await self.store.run(self._status)

    def _status(self) -> Status:
        with self.store.transaction() as tx:
            tx.execute(ENSURE, {"name": self.name})
            return _status(tx.one(SELECT, {"name": self.name}))

    async def beat(self, now: float, back: Announce) -> Status | None:
        """Record a heartbeat at ``now``. When it ends an outage, ``back(status)`` queues the
        announcements in the same transaction; the status as it was before is returned
        (None when no outage ended)."""
        return await self.store.run(self._beat, now, back)

    def _beat(self, now: float, back: Announce) -> Status | None:
        params = {"name": self.name, "now": now}
        with self.store.transaction() as tx:
            tx.execute(ENSURE, params)
            before = _status(tx.one(SELECT, params))
            ended = tx.execute(END_OUTAGE, params) == 1
            tx.execute(BEAT, params)
            if ended:
                back(before)
        return before if ended else None

    async def declare_missing(self, seen: Status, now: float, missing: Announce) -> Status | None:
        """Mark the heartbeat missing at ``now`` unless it changed since ``seen`` was read;
        ``missing(status)`` queues the announcements in the same transaction. The new status,
        or None when a heartbeat or another replica came first."""
        return await self.store.run(self._declare, seen, now, missing)

    def _declare(self, seen: Status, now: float, missing: Announce) -> Status | None:
        params = {
            "name": self.name,
            "now": now,
            "outages": seen.outages,
            "seen": -1 if seen.last_seen is None else seen.last_seen,
        }
        with self.store.transaction() as tx:
            if tx.execute(DECLARE, params) != 1:
                return None
            after = _status(tx.one(SELECT, params))
            missing(after)
        return after
