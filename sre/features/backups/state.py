"""The backup feature's own tables in the state store (component ``backups``).

* ``backup_runs`` - history: one row per step judged (outcome, reason, facts), 90 days;
* ``backup_status`` - per backup: the latest outcome of each step, whether it is failing,
  how many times that changed (the notice keys), when verification last passed;
* ``backup_integrity`` - digests already verified, so a multi-GB dump is downloaded once per
  (object, ETag, expected digest), not on every run.

Every method is a coroutine: the SQL runs on the store's worker thread.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import sqlalchemy as sa

from sre.checks.backup import Outcome, Verdict
from sre.runtime.store import Store
from sre.runtime.store.contract import Tx
from sre.runtime.store.tables import ID, TIME

KEEP_SECONDS = 90 * 86400.0

tables = sa.MetaData()
backup_runs = sa.Table(
    "backup_runs",
    tables,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("backup", sa.Text, nullable=False),
    sa.Column("ts", TIME, nullable=False),
    sa.Column("step", sa.Text, nullable=False),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("object", sa.Text),
    sa.Column("size_bytes", sa.BigInteger),
    sa.Column("age_seconds", TIME),
    sa.Column("duration_seconds", TIME),
    sa.Index("backup_runs_backup_ts", "backup", "ts"),
    sqlite_autoincrement=True,
)
backup_status = sa.Table(
    "backup_status",
    tables,
    sa.Column("backup", sa.Text, primary_key=True),
    sa.Column("failing", sa.Integer, nullable=False),
    sa.Column("transitions", sa.Integer, nullable=False),
    sa.Column("changed_at", TIME, nullable=False),
    sa.Column("last_success", TIME),
    sa.Column("steps", sa.Text, nullable=False),
)
backup_integrity = sa.Table(
    "backup_integrity",
    tables,
    sa.Column("backup", sa.Text, primary_key=True),
    sa.Column("object", sa.Text, primary_key=True),
    sa.Column("etag", sa.Text, primary_key=True),
    sa.Column("expected", sa.Text, primary_key=True),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("checked_at", TIME, nullable=False),
)


def _create(tx: Tx) -> None:
    tx.create(backup_runs, backup_status, backup_integrity)


MIGRATIONS = (_create,)

STATUS = "SELECT failing, transitions, last_success, steps FROM backup_status WHERE backup = :b"
SAVE_STATUS = (
    "INSERT INTO backup_status (backup, failing, transitions, changed_at, last_success, steps) "
    "VALUES (:b, :failing, :transitions, :now, :last_success, :steps) "
    "ON CONFLICT (backup) DO UPDATE SET failing = excluded.failing, "
    "transitions = excluded.transitions, "
    "changed_at = CASE WHEN backup_status.failing = excluded.failing "
    "THEN backup_status.changed_at ELSE excluded.changed_at END, "
    "last_success = excluded.last_success, steps = excluded.steps"
)
ADD_RUN = (
    "INSERT INTO backup_runs (backup, ts, step, outcome, reason, object, size_bytes, "
    "age_seconds, duration_seconds) VALUES (:b, :ts, :step, :outcome, :reason, :object, "
    ":size_bytes, :age_seconds, :duration_seconds)"
)
RUNS = (
    "SELECT ts, step, outcome, reason, object FROM backup_runs WHERE backup = :b "
    "ORDER BY id DESC LIMIT :limit"
)
INTEGRITY = (
    "SELECT outcome, reason FROM backup_integrity WHERE backup = :b AND object = :object "
    "AND etag = :etag AND expected = :expected"
)
REMEMBER_INTEGRITY = (
    "INSERT INTO backup_integrity (backup, object, etag, expected, outcome, reason, "
    "checked_at) VALUES (:b, :object, :etag, :expected, :outcome, :reason, :now) "
    "ON CONFLICT (backup, object, etag, expected) DO UPDATE SET outcome = excluded.outcome, "
    "reason = excluded.reason, checked_at = excluded.checked_at"
)


@dataclass
class Status:
    failing: bool | None  # None: never judged
    transitions: int
    last_success: float | None
    steps: dict[str, list[str]]  # step -> [outcome, reason]


@dataclass(frozen=True)
class Run:
    ts: float
    step: str
    outcome: str
    reason: str
    object: str | None


class History:
    def __init__(self, store: Store) -> None:
        self.store = store
        store.migrate("backups", MIGRATIONS)

    async def status(self, backup: str) -> Status:
        return await self.store.run(self._status, backup)

    def _status(self, backup: str) -> Status:
        with self.store.transaction() as tx:
            row = tx.one(STATUS, {"b": backup})
        if row is None:
            return Status(None, 0, None, {})
        return Status(
            bool(row["failing"]),
            int(row["transitions"]),
            row["last_success"],
            json.loads(row["steps"]),
        )

    async def save(self, backup: str, status: Status, now: float) -> None:
        params = {
            "b": backup,
            "failing": int(bool(status.failing)),
            "transitions": status.transitions,
            "now": now,
            "last_success": status.last_success,
            "steps": json.dumps(status.steps, sort_keys=True),
        }
        await self.store.run(self._execute, SAVE_STATUS, params)

    def _execute(self, sql: str, params: dict[str, object]) -> None:
        with self.store.transaction() as tx:
            tx.execute(sql, params)

    async def add_runs(
        self,
        backup: str,
        now: float,
        verdicts: Sequence[Verdict],
        *,
        obj: str | None = None,
        size_bytes: int | None = None,
        age_seconds: float | None = None,
        duration_seconds: float | None = None,
    ) -> None:
        facts = {
            "b": backup,
            "ts": now,
            "object": obj,
            "size_bytes": size_bytes,
            "age_seconds": age_seconds,
            "duration_seconds": duration_seconds,
        }
        rows = [
            {**facts, "step": v.step, "outcome": v.outcome, "reason": v.reason} for v in verdicts
        ]
        await self.store.run(self._add_runs, backup, now, rows)

    def _add_runs(self, backup: str, now: float, rows: list[dict[str, object]]) -> None:
        with self.store.transaction() as tx:
            # keep KEEP_SECONDS of history; older rows go as new ones arrive
            before = now - KEEP_SECONDS
            tx.execute(
                "DELETE FROM backup_runs WHERE backup = :b AND ts < :t", {"b": backup, "t": before}
            )
            tx.execute("DELETE FROM backup_integrity WHERE checked_at < :t", {"t": before})
            for row in rows:
                tx.execute(ADD_RUN, row)

    async def runs(self, backup: str, limit: int = 50) -> list[Run]:
        """Newest first."""
        return await self.store.run(self._runs, backup, limit)

    def _runs(self, backup: str, limit: int) -> list[Run]:
        with self.store.transaction() as tx:
            rows = tx.all(RUNS, {"b": backup, "limit": limit})
        return [Run(r["ts"], r["step"], r["outcome"], r["reason"], r["object"]) for r in rows]

    async def integrity(self, backup: str, obj: str, etag: str, expected: str) -> Verdict | None:
        params = {"b": backup, "object": obj, "etag": etag, "expected": expected}
        row = await self.store.run(self._one, INTEGRITY, params)
        if row is None:
            return None
        return Verdict("integrity", cast(Outcome, row["outcome"]), str(row["reason"]))

    def _one(self, sql: str, params: dict[str, object]) -> dict[str, object] | None:
        with self.store.transaction() as tx:
            row = tx.one(sql, params)
        return dict(row) if row is not None else None

    async def remember_integrity(
        self, backup: str, obj: str, etag: str, expected: str, *, verdict: Verdict, now: float
    ) -> None:
        params = {
            "b": backup,
            "object": obj,
            "etag": etag,
            "expected": expected,
            "outcome": verdict.outcome,
            "reason": verdict.reason,
            "now": now,
        }
        await self.store.run(self._execute, REMEMBER_INTEGRITY, params)
