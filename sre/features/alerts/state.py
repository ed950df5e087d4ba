"""The alert feature's state (component ``alerts``; the tables in ``tables.py``) and its
outbox topic.

* ``alert_groups``: one row per Alertmanager group: where its Slack message is
  (``channel``, ``ts``), the last notification seen (``view``, the webhook's own JSON
  shape), when it started and resolved, and who acknowledged or silenced it. Kept across
  restarts, so the daemon keeps updating the same message.
* ``slack_messages``: where each delivered notice went (for ``Notice.thread_key``).

Receipt is one transaction: the dedup claims (the store's idempotency, scope ``alerts``)
and the outbox row commit together or not at all. Every public method is a coroutine: the
SQL runs on the store's worker thread.

Delivery on several replicas uses ``fenced(term)``: the *sending* mark (a post's claim) and
finishing an item check, in their transaction, that the leader term still holds.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sre.features.alerts.model import Notification
from sre.features.alerts.tables import (
    ACTION_COLUMNS,
    DELIVERY_COLUMNS,
    DIGEST_COLUMNS,
    FIRING,
    GROUP,
    GROUPS,
    MEMBERS,
    MESSAGE_OF,
    MIGRATIONS,
    REMEMBER_MESSAGE,
    SAVE_GROUP,
)
from sre.runtime.ha import Term
from sre.runtime.notices import NOTICE_TOPIC
from sre.runtime.store import OutboxItem, Store
from sre.runtime.store.contract import Row, Tx

ALERTS_TOPIC = "alerts"
TOPICS = (ALERTS_TOPIC, NOTICE_TOPIC)
DEDUP_SCOPE = "alerts"
DEDUP_KEEP_SECONDS = 30 * 86400
DELIVERED_KEEP_SECONDS = 7 * 86400


@dataclass(frozen=True)
class Digest:
    id: int
    channel: str
    ts: str | None
    opened_at: float
    closed_at: float | None


@dataclass
class GroupRow:
    group_key: str
    channel: str | None = None
    ts: str | None = None
    status: str = "firing"
    view: Notification | None = None
    started_at: float | None = None
    resolved_at: float | None = None
    ack_by: str | None = None
    ack_at: float | None = None
    silence_id: str | None = None
    silence_url: str | None = None
    silenced_by: str | None = None
    applied_item: int | None = None
    updated_at: float = 0.0
    digest_id: int | None = None  # in a storm digest: its message is the digest's line


def _group(row: Row) -> GroupRow:
    values = dict(row)
    view = values.pop("view")
    return GroupRow(**values, view=Notification.from_dict(json.loads(view)) if view else None)


def _delivery_values(row: GroupRow) -> dict[str, Any]:
    values = {c: getattr(row, c) for c in DELIVERY_COLUMNS}
    values["view"] = json.dumps(row.view.to_dict(), sort_keys=True) if row.view else None
    return values


def dedup_key(group_key: str, fingerprint: str, status: str, starts_at: str) -> str:
    return json.dumps([group_key, fingerprint, status, starts_at], separators=(",", ":"))


class AlertState:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.term: Term | None = None  # set on the copy a leader term's delivery uses
        store.migrate("alerts", MIGRATIONS)

    def fenced(self, term: Term) -> AlertState:
        """This state, with delivery's marks refused once ``term`` is over."""
        other = copy.copy(self)
        other.term = term
        return other

    def _check(self, tx: Tx, action: str) -> None:
        if self.term is not None:
            self.term.check(tx, action)  # Fenced: the transaction writes nothing

    # ------------------------------------------------------------------ receipt

    async def receive(self, note: Notification, received_at: float) -> int | None:
        """Claim every alert's dedup key and queue the new ones; None = all duplicates."""
        return await self.store.run(self._receive, note, received_at)

    def _receive(self, note: Notification, received_at: float) -> int | None:
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
                "notification": note.to_dict(),
                "new": new,
                "received_at": received_at,
            }
            return self.store.outbox_add(ALERTS_TOPIC, payload)

    async def enqueue(self, kind: str, group_key: str, **data: Any) -> int | None:
        """A follow-up for a group (refresh after an action, a thread note, a reconcile)."""
        payload = {"kind": kind, "group_key": group_key, "received_at": self.store.clock(), **data}
        return await self.store.run(self.store.outbox_add, ALERTS_TOPIC, payload, None)

    async def reply(
        self, channel: str, user: str, text: str, *, thread_ts: str | None = None
    ) -> int | None:
        """An ephemeral reply to ``user`` in ``channel`` (a button that failed)."""
        payload = {
            "kind": "reply",
            "channel": channel,
            "user": user,
            "text": text,
            "thread_ts": thread_ts,
            "received_at": self.store.clock(),
        }
        return await self.store.run(self.store.outbox_add, ALERTS_TOPIC, payload, None)

    # ------------------------------------------------------------------ delivery queue

    async def pending(self, after: int = 0, limit: int = 5000) -> list[OutboxItem]:
        """Pending items of this feature's topics above ``after`` (due or not), oldest
        first."""
        return await self.store.run(self.store.outbox_pending, TOPICS, limit, after)

    async def sending(self, item_id: int) -> None:
        await self.store.run(self._sending, item_id)

    def _sending(self, item_id: int) -> None:
        with self.store.transaction() as tx:
            self._check(tx, "slack_post")
            self.store.outbox_sending(item_id)

    async def superseded(self, item_ids: Sequence[int]) -> None:
        """Mark delivered, in one transaction, items a newer one makes pointless."""
        await self.store.run(self._finish, list(item_ids), [], [])

    async def finish(
        self,
        item_id: int,
        rows: Sequence[GroupRow] = (),
        follow_ups: Sequence[dict[str, Any]] = (),
    ) -> None:
        """In one transaction: save what delivery changed, queue what follows (thread
        notes, digest updates), mark the item delivered."""
        now = self.store.clock()
        for row in rows:
            row.updated_at = now
        await self.store.run(self._finish, [item_id], list(rows), list(follow_ups))

    def _finish(
        self, item_ids: list[int], rows: list[GroupRow], follow_ups: list[dict[str, Any]]
    ) -> None:
        with self.store.transaction() as tx:
            self._check(tx, "outbox")
            for row in rows:
                tx.execute(SAVE_GROUP, _delivery_values(row))
            for payload in follow_ups:
                self.store.outbox_add(ALERTS_TOPIC, payload)
            for item_id in item_ids:
                self.store.outbox_delivered(item_id)

    async def retry(self, item_id: int, error: str, delay: float, *, maybe_sent: bool) -> None:
        await self.store.run(
            functools.partial(self.store.outbox_retry, maybe_sent=maybe_sent),
            item_id,
            error,
            delay,
        )

    async def failed(self, item_id: int, error: str) -> None:
        await self.store.run(self.store.outbox_failed, item_id, error)

    def pending_count(self) -> int:
        """For the ``sre_outbox_pending`` gauge (read at scrape time, off the event loop)."""
        return self.store.outbox_count()

    # ------------------------------------------------------------------ groups

    async def group(self, group_key: str) -> GroupRow | None:
        return await self.store.run(self._group_row, group_key)

    async def groups(self, group_keys: Sequence[str]) -> dict[str, GroupRow]:
        return await self.store.run(self._groups, list(group_keys))

    def _groups(self, keys: list[str]) -> dict[str, GroupRow]:
        with self.store.transaction() as tx:
            rows = tx.all(GROUPS, {"keys": keys}) if keys else []
        return {r["group_key"]: _group(r) for r in rows}

    def _group_row(self, group_key: str) -> GroupRow | None:
        with self.store.transaction() as tx:
            row = tx.one(GROUP, {"k": group_key})
        return _group(row) if row is not None else None

    async def save_group(self, row: GroupRow) -> None:
        """Write what delivery owns; the action columns (ack, silence) are left alone."""
        row.updated_at = self.store.clock()
        await self.store.run(self._execute, SAVE_GROUP, _delivery_values(row))

    def _execute(self, sql: str, params: dict[str, Any]) -> int:
        with self.store.transaction() as tx:
            return tx.execute(sql, params)

    async def set_action_fields(self, group_key: str, **fields: str | float | None) -> bool:
        """Record an acknowledgement or a silence; False when the group is unknown."""
        unknown = set(fields) - set(ACTION_COLUMNS)
        if unknown:
            raise ValueError(f"not action columns: {sorted(unknown)}")
        sets = ", ".join(f"{c} = :{c}" for c in fields)
        sql = f"UPDATE alert_groups SET {sets} WHERE group_key = :group_key"
        return await self.store.run(self._execute, sql, {**fields, "group_key": group_key}) == 1

    async def firing_groups(self) -> list[GroupRow]:
        return await self.store.run(self._firing)

    def _firing(self) -> list[GroupRow]:
        with self.store.transaction() as tx:
            return [_group(row) for row in tx.all(FIRING)]

    # ------------------------------------------------------------------ notices

    async def message_of(self, key: str) -> tuple[str, str] | None:
        return await self.store.run(self._message_of, key)

    def _message_of(self, key: str) -> tuple[str, str] | None:
        with self.store.transaction() as tx:
            row = tx.one(MESSAGE_OF, {"key": key})
        return (row["channel"], row["ts"]) if row else None

    async def remember_message(self, key: str, channel: str, ts: str) -> None:
        params = {"key": key, "channel": channel, "ts": ts, "now": self.store.clock()}
        await self.store.run(self._execute, REMEMBER_MESSAGE, params)

    # ------------------------------------------------------------------ storm digests

    async def open_digests(self) -> list[Digest]:
        return await self.store.run(self._digests, "closed_at IS NULL")

    async def digest(self, digest_id: int) -> Digest | None:
        found = await self.store.run(self._digests, "id = :id", {"id": digest_id})
        return found[0] if found else None

    def _digests(self, where: str, params: dict[str, Any] | None = None) -> list[Digest]:
        with self.store.transaction() as tx:
            rows = tx.all(f"SELECT {DIGEST_COLUMNS} FROM digests WHERE {where}", params)
        return [Digest(**row) for row in rows]

    async def open_digest(self, channel: str, first: dict[str, Any]) -> Digest:
        """A new digest for ``channel``, and ``first`` (its post) queued, in one go."""
        return await self.store.run(self._open_digest, channel, first)

    def _open_digest(self, channel: str, first: dict[str, Any]) -> Digest:
        now = self.store.clock()
        with self.store.transaction() as tx:
            digest_id = tx.scalar(
                "INSERT INTO digests (channel, opened_at) VALUES (:c, :now) RETURNING id",
                {"c": channel, "now": now},
            )
            self.store.outbox_add(ALERTS_TOPIC, {**first, "digest_id": int(digest_id)})
        return Digest(int(digest_id), channel, None, now, None)

    async def close_digest(self, digest_id: int) -> None:
        sql = "UPDATE digests SET closed_at = :now WHERE id = :id AND closed_at IS NULL"
        await self.store.run(self._execute, sql, {"id": digest_id, "now": self.store.clock()})

    async def digest_posted(self, item_id: int, digest_id: int, ts: str) -> None:
        await self.store.run(self._digest_posted, item_id, digest_id, ts)

    def _digest_posted(self, item_id: int, digest_id: int, ts: str) -> None:
        with self.store.transaction() as tx:
            self._check(tx, "outbox")
            tx.execute("UPDATE digests SET ts = :ts WHERE id = :id", {"ts": ts, "id": digest_id})
            self.store.outbox_delivered(item_id)

    async def members(self, digest_id: int) -> list[GroupRow]:
        return await self.store.run(self._members, digest_id)

    def _members(self, digest_id: int) -> list[GroupRow]:
        with self.store.transaction() as tx:
            return [_group(row) for row in tx.all(MEMBERS, {"id": digest_id})]

    async def digested(
        self,
        item_ids: Sequence[int],
        rows: Sequence[GroupRow],
        follow_ups: Sequence[dict[str, Any]],
    ) -> None:
        """Groups put in a digest: their rows (with ``digest_id``) saved, the items that
        would have posted them done, the digest's update and details queued: one go."""
        now = self.store.clock()
        for row in rows:
            row.updated_at = now
        await self.store.run(self._finish, list(item_ids), list(rows), list(follow_ups))

    # ------------------------------------------------------------------ housekeeping

    async def prune(self) -> int:
        """Forget dedup keys older than 30 days (Alertmanager stopped re-sending long ago)
        and this feature's delivered outbox rows older than 7 days."""
        return await self.store.run(self._prune)

    def _prune(self) -> int:
        with self.store.transaction():
            claims = self.store.forget_claims(DEDUP_SCOPE, DEDUP_KEEP_SECONDS)
            before = self.store.clock() - DELIVERED_KEEP_SECONDS
            return claims + self.store.outbox_prune(TOPICS, before)
