"""The backup feature's own tables in the state store (component ``backups``).

* ``backup_runs`` - history: one row per step judged (outcome, reason, facts), 90 days;
* ``backup_status`` - per backup: the latest outcome of each step, whether it is failing,
  how many times that changed (the notice keys), when verification last passed;
* ``backup_integrity`` - digests already verified, so a multi-GB dump is downloaded once per
  (object, ETag, expected digest), not on every run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sre.checks.backup import Outcome, Verdict
from sre.daemon.store import Store

KEEP_SECONDS = 90 * 86400.0

MIGRATIONS = (
    """
    CREATE TABLE backup_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        backup TEXT NOT NULL,
        ts REAL NOT NULL,
        step TEXT NOT NULL,
        outcome TEXT NOT NULL,
        reason TEXT NOT NULL,
        object TEXT,
        size_bytes INTEGER,
        age_seconds REAL,
        duration_seconds REAL
    );
    CREATE INDEX backup_runs_backup_ts ON backup_runs (backup, ts);
    CREATE TABLE backup_status (
        backup TEXT PRIMARY KEY,
        failing INTEGER NOT NULL,
        transitions INTEGER NOT NULL,
        changed_at REAL NOT NULL,
        last_success REAL,
        steps TEXT NOT NULL
    );
    CREATE TABLE backup_integrity (
        backup TEXT NOT NULL,
        object TEXT NOT NULL,
        etag TEXT NOT NULL,
        expected TEXT NOT NULL,
        outcome TEXT NOT NULL,
        reason TEXT NOT NULL,
        checked_at REAL NOT NULL,
        PRIMARY KEY (backup, object, etag, expected)
    );
    """,
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

    def status(self, backup: str) -> Status:
        with self.store.transaction() as db:
            row = db.execute(
                "SELECT failing, transitions, last_success, steps FROM backup_status "
                "WHERE backup = ?",
                (backup,),
            ).fetchone()
        if row is None:
            return Status(None, 0, None, {})
        return Status(bool(row[0]), int(row[1]), row[2], json.loads(row[3]))

    def save(self, backup: str, status: Status, now: float) -> None:
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO backup_status (backup, failing, transitions, changed_at, "
                "last_success, steps) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(backup) DO UPDATE "
                "SET failing = excluded.failing, transitions = excluded.transitions, "
                "changed_at = CASE WHEN backup_status.failing = excluded.failing "
                "THEN backup_status.changed_at ELSE excluded.changed_at END, "
                "last_success = excluded.last_success, steps = excluded.steps",
                (
                    backup,
                    int(bool(status.failing)),
                    status.transitions,
                    now,
                    status.last_success,
                    json.dumps(status.steps, sort_keys=True),
                ),
            )

    def add_runs(
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
        with self.store.transaction() as db:
            # keep KEEP_SECONDS of history; older rows go as new ones arrive
            db.execute(
                "DELETE FROM backup_runs WHERE backup = ? AND ts < ?", (backup, now - KEEP_SECONDS)
            )
            db.execute("DELETE FROM backup_integrity WHERE checked_at < ?", (now - KEEP_SECONDS,))
            db.executemany(
                "INSERT INTO backup_runs (backup, ts, step, outcome, reason, object, size_bytes, "
                "age_seconds, duration_seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (backup, now, v.step, v.outcome, v.reason, obj, size_bytes, age_seconds,
                     duration_seconds)
                    for v in verdicts
                ],
            )  # fmt: skip

    def runs(self, backup: str, limit: int = 50) -> list[Run]:
        """Newest first."""
        with self.store.transaction() as db:
            rows = db.execute(
                "SELECT ts, step, outcome, reason, object FROM backup_runs WHERE backup = ? "
                "ORDER BY id DESC LIMIT ?",
                (backup, limit),
            ).fetchall()
        return [Run(*row) for row in rows]

    def integrity(self, backup: str, obj: str, etag: str, expected: str) -> Verdict | None:
        with self.store.transaction() as db:
            row = db.execute(
                "SELECT outcome, reason FROM backup_integrity WHERE backup = ? AND object = ? "
                "AND etag = ? AND expected = ?",
                (backup, obj, etag, expected),
            ).fetchone()
        return Verdict("integrity", cast(Outcome, row[0]), row[1]) if row else None

    def remember_integrity(
        self, backup: str, obj: str, etag: str, expected: str, *, verdict: Verdict, now: float
    ) -> None:
        with self.store.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO backup_integrity (backup, object, etag, expected, "
                "outcome, reason, checked_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (backup, obj, etag, expected, verdict.outcome, verdict.reason, now),
            )
