"""The alert feature's own tables (component ``alerts``) and its outbox topic.

* ``alert_groups``: one row per Alertmanager group: where its Slack message is
  (``channel``, ``ts``), the last notification seen (``view``, the webhook JSON), when it
  started and resolved, and who acknowledged or silenced it. Kept across restarts, so the
  daemon keeps updating the same message.
* ``slack_messages``: where each delivered notice went (for ``Notice.thread_key``).

Receipt is one transaction: the dedup claims (core ``idempotency`` table, scope
``alerts``) and the outbox row commit together or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sre.daemon.store import OutboxItem, Store, _outbox_item
from sre.notify.notices import NOTICE_TOPIC
from sre.notify.payload import Notification

ALERTS_TOPIC = "alerts"
DEDUP_SCOPE = "alerts"
DEDUP_KEEP_SECONDS = 30 * 86400
DELIVERED_KEEP_SECONDS = 7 * 86400

MIGRATIONS = (
    """
    CREATE TABLE alert_groups (
        group_key TEXT PRIMARY KEY,
        channel TEXT,
        ts TEXT,
        status TEXT NOT NULL DEFAULT 'firing',
        view TEXT,
        started_at REAL,
        resolved_at REAL,
        ack_by TEXT,
        ack_at REAL,
        silence_id TEXT,
        silence_url TEXT,
        silenced_by TEXT,
        applied_item INTEGER,
        updated_at REAL NOT NULL
    );
    CREATE TABLE slack_messages (
        key TEXT PRIMARY KEY,
        channel TEXT NOT NULL,
        ts TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    """,
)

_GROUP_COLUMNS = (
    "group_key",
    "channel",
    "ts",
    "status",
    "view",
    "started_at",
    "resolved_at",
    "ack_by",
    "ack_at",
    "silence_id",
    "silence_url",
    "silenced_by",
    "applied_item",
    "updated_at",
)
_ACTION_COLUMNS = ("ack_by", "ack_at", "silence_id", "silence_url", "silenced_by")
_DELIVERY_COLUMNS = tuple(c for c in _GROUP_COLUMNS if c not in _ACTION_COLUMNS)


@dataclass
class GroupRow:
    group_key: str
    channel: str | None = None
    ts: str | None = None
    status: str = "firing"
    view: dict[str, Any] | None = None
    started_at: float | None = None
    resolved_at: float | None = None
    ack_by: str | None = None
    ack_at: float | None = None
    silence_id: str | None = None
    silence_url: str | None = None
    silenced_by: str | None = None
    applied_item: int | None = None
    updated_at: float = 0.0


def dedup_key(group_key: str, fingerprint: str, status: str, starts_at: str) -> str:
    return json.dumps([group_key, fingerprint, status, starts_at], separators=(",", ":"))


class AlertState:
    def __init__(self, store: Store) -> None:
        self.store = store
        store.migrate("alerts", MIGRATIONS)

    # ------------------------------------------------------------------ receipt

    def receive(self, note: Notification, body: str, received_at: float) -> int | None:
        """Claim every alert's dedup key and queue the new ones; None = all duplicates."""
        with self.store.transaction():
            new = [
                a.fingerprint
                for a in note.alerts
                if self.store.claim(
                    DEDUP_SCOPE, dedup_key(note.group_key, a.fingerprint, a.status, a.starts_at)
                )
            ]
            if not new:
                return None
            payload = {
                "kind": "notification",
                "group_key": note.group_key,
                "body": body,
                "new": new,
                "received_at": received_at,
            }
            return self.store.outbox_add(ALERTS_TOPIC, payload)

    def enqueue(self, kind: str, group_key: str, **data: Any) -> int | None:
        """A follow-up for a group (refresh after an action, a thread note, a reconcile)."""
        payload = {"kind": kind, "group_key": group_key, "received_at": self.store.clock(), **data}
        return self.store.outbox_add(ALERTS_TOPIC, payload)

    # ------------------------------------------------------------------ delivery queue

    def pending(self, topics: Sequence[str], limit: int = 2000) -> list[OutboxItem]:
        """Pending items of ``topics`` (due or not), oldest first."""
        marks = ",".join("?" for _ in topics)
        with self.store.transaction() as db:
            rows = db.execute(
                f"SELECT * FROM outbox WHERE status = 'pending' AND topic IN ({marks}) "
                "ORDER BY id LIMIT ?",
                (*topics, limit),
            ).fetchall()
        return [_outbox_item(tuple(row)) for row in rows]

    # ------------------------------------------------------------------ groups

    def group(self, group_key: str) -> GroupRow | None:
        with self.store.transaction() as db:
            row = db.execute(
                f"SELECT {', '.join(_GROUP_COLUMNS)} FROM alert_groups WHERE group_key = ?",
                (group_key,),
            ).fetchone()
        if row is None:
            return None
        values = dict(zip(_GROUP_COLUMNS, row, strict=True))
        values["view"] = json.loads(values["view"]) if values["view"] else None
        return GroupRow(**values)

    def save_group(self, row: GroupRow) -> None:
        """Write what delivery owns; the action columns (ack, silence) are left alone."""
        row.updated_at = self.store.clock()
        values = {c: getattr(row, c) for c in _DELIVERY_COLUMNS}
        values["view"] = json.dumps(row.view, sort_keys=True) if row.view is not None else None
        cols = ", ".join(_DELIVERY_COLUMNS)
        marks = ", ".join(f":{c}" for c in _DELIVERY_COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in _DELIVERY_COLUMNS[1:])
        with self.store.transaction() as db:
            db.execute(
                f"INSERT INTO alert_groups ({cols}) VALUES ({marks}) "
                f"ON CONFLICT(group_key) DO UPDATE SET {updates}",
                values,
            )

    def set_action_fields(self, group_key: str, **fields: str | float | None) -> bool:
        """Record an acknowledgement or a silence; False when the group is unknown."""
        unknown = set(fields) - set(_ACTION_COLUMNS)
        if unknown:
            raise ValueError(f"not action columns: {sorted(unknown)}")
        sets = ", ".join(f"{c} = :{c}" for c in fields)
        with self.store.transaction() as db:
            cur = db.execute(
                f"UPDATE alert_groups SET {sets} WHERE group_key = :group_key",
                {**fields, "group_key": group_key},
            )
        return cur.rowcount == 1

    def firing_groups(self) -> list[GroupRow]:
        with self.store.transaction() as db:
            keys = [
                r[0]
                for r in db.execute(
                    "SELECT group_key FROM alert_groups WHERE status = 'firing' AND ts IS NOT NULL"
                ).fetchall()
            ]
        return [g for g in (self.group(k) for k in keys) if g is not None]

    # ------------------------------------------------------------------ notices

    def message_of(self, key: str) -> tuple[str, str] | None:
        with self.store.transaction() as db:
            row = db.execute(
                "SELECT channel, ts FROM slack_messages WHERE key = ?", (key,)
            ).fetchone()
        return (row[0], row[1]) if row else None

    def remember_message(self, key: str, channel: str, ts: str) -> None:
        with self.store.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO slack_messages (key, channel, ts, created_at) "
                "VALUES (?, ?, ?, ?)",
                (key, channel, ts, self.store.clock()),
            )

    # ------------------------------------------------------------------ housekeeping

    def prune(self) -> int:
        """Forget dedup keys older than 30 days (Alertmanager stopped re-sending long ago)
        and this feature's delivered outbox rows older than 7 days."""
        now = self.store.clock()
        with self.store.transaction() as db:
            cur = db.execute(
                "DELETE FROM idempotency WHERE scope = ? AND created_at < ?",
                (DEDUP_SCOPE, now - DEDUP_KEEP_SECONDS),
            )
            done = db.execute(
                "DELETE FROM outbox WHERE topic IN (?, ?) AND status = 'delivered' "
                "AND delivered_at < ?",
                (ALERTS_TOPIC, NOTICE_TOPIC, now - DELIVERED_KEEP_SECONDS),
            )
        return cur.rowcount + done.rowcount
