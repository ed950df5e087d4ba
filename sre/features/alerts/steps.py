"""One outbox item, one Slack call: what each kind of item asks of Slack, and doing it.

The delivery loop (``delivery.py``) decides *when* (pacing, priority, digests); this module
decides *what*: :meth:`Steps.call` predicts the call an item will make (a post in a
channel, an update, or nothing), :meth:`Steps.run` makes it and stores the result, with
what follows (a thread note, a digest update) queued in the same transaction that marks
the item delivered.

At most once: a post carries ``sre-<item id>`` in its message metadata and the item is
marked *sending* before the call. An item found so marked (the answer never came, or the
daemon died) first asks Slack whether that post arrived, and adopts it if it did.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sre.clients import ClientError
from sre.clients.slack import MAYBE_DONE, Poster
from sre.features.alerts.digest import Member, detail_reply, digest_message, priority_of
from sre.features.alerts.messages import GroupView, message, notice_message, thread_reply
from sre.features.alerts.metrics import AlertMetrics
from sre.features.alerts.model import Alert, Notification
from sre.features.alerts.state import AlertState, Digest, GroupRow
from sre.runtime.notices import NOTICE_TOPIC, Notice
from sre.runtime.store import OutboxItem

log = logging.getLogger(__name__)

REOPEN_WINDOW = 3600.0  # a group firing again within this after resolving reuses its message
POST, UPDATE, REPLY, NONE = "post", "update", "reply", "none"
Clock = Callable[[], float]


@dataclass
class Routing:
    channel_for: Callable[[dict[str, str]], str]
    alertmanager_url: str  # for silence links ("" = none)
    has_rollback: Callable[[str], bool]  # a service with a rollback target gets the button


@dataclass(frozen=True)
class Call:
    kind: str  # post | update | reply | none
    channel: str | None = None
    priority: int = 2


def group_view(row: GroupRow, routing: Routing) -> GroupView:
    view = row.view
    common = dict(view.common_labels) if view else {}
    service = common.get("service", "")
    return GroupView(
        group_key=row.group_key,
        status=row.status,
        alerts=view.alerts if view else (),
        common_labels=common,
        common_annotations=dict(view.common_annotations) if view else {},
        alertmanager_url=routing.alertmanager_url,
        started_at=row.started_at,
        resolved_at=row.resolved_at,
        acknowledged_by=row.ack_by,
        acknowledged_at=row.ack_at,
        silence_url=row.silence_url,
        silenced_by=row.silenced_by,
        rollback_service=service if service and routing.has_rollback(service) else None,
    )


def severity_of(note: Notification | None) -> str:
    if note is None:
        return "warning"
    first = note.alerts[0] if note.alerts else None
    return note.common_labels.get("severity") or (
        first.labels.get("severity", "warning") if first else "warning"
    )


def _labels(note: Notification | None) -> dict[str, str]:
    return {**note.group_labels, **note.common_labels} if note else {}


def _changes(alerts: list[Alert]) -> str:
    lines = []
    for status in ("firing", "resolved"):
        subset = [a for a in alerts if a.status == status]
        if subset:
            lines.append(thread_reply(subset, status))
    return "\n".join(lines)


def _rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def note_of(payload: dict[str, Any]) -> Notification:
    if "notification" in payload:
        return Notification.from_dict(payload["notification"])
    return Notification.from_dict(json.loads(str(payload["body"])))  # queued before the model


def digest_update(digest_id: int) -> dict[str, Any]:
    return {"kind": "digest_update", "digest_id": digest_id}


class Steps:
    def __init__(
        self,
        state: AlertState,
        poster: Poster,
        routing: Routing,
        metrics: AlertMetrics,
        clock: Clock,
    ) -> None:
        self.state = state
        self.poster = poster
        self.routing = routing
        self.metrics = metrics
        self.clock = clock

    # ------------------------------------------------------------------ predicting

    def call(self, item: OutboxItem, row: GroupRow | None, digest: Digest | None) -> Call:
        """The one Slack call ``item`` will make, and its priority (0 = critical first)."""
        payload: dict[str, Any] = item.payload
        kind = payload.get("kind")
        if item.topic == NOTICE_TOPIC:
            notice = Notice.from_dict(payload)
            channel = self.routing.channel_for(dict(notice.to_dict()["labels"]))
            return Call(POST, channel, priority_of(notice.severity))
        if kind == "reply":  # someone is waiting for it: before everything else
            return Call(REPLY, str(payload["channel"]), -2)
        if kind == "digest_post":
            return Call(POST, digest.channel if digest else None, -1)
        if kind == "digest_update":
            return Call(UPDATE, None, 1)
        if kind == "digest_details":
            return Call(POST, digest.channel if digest else None, 3)
        view = row.view if row else None
        if kind == "notification":
            view = note_of(payload)
        priority = priority_of(severity_of(view))
        if row is not None and row.digest_id is not None and kind != "note":
            return Call(NONE, None, priority)  # the digest's update carries it
        if kind == "note":
            if row is None or row.ts is None:
                return Call(NONE)
            return Call(POST, row.channel, priority)
        if row is not None and row.ts is not None:
            return Call(UPDATE, row.channel, priority)
        if kind == "notification":
            return Call(POST, self.routing.channel_for(_labels(view)), priority)
        return Call(NONE, None, priority)  # nothing posted yet: nothing to refresh

    # ------------------------------------------------------------------ the one call

    async def post_once(
        self,
        item: OutboxItem,
        channel: str,
        msg: dict[str, Any],
        thread_ts: str | None = None,
    ) -> tuple[str, str]:
        post_id = f"sre-{item.id}"
        if item.sending_at is not None:  # an earlier attempt may have arrived
            found = await self.poster.find(
                channel, post_id, since=item.sending_at, thread_ts=thread_ts
            )
            if found is not None:
                log.info("outbox item %s was posted before its answer was lost: kept", item.id)
                self.metrics.recovered.inc()
                return found
        await self.state.sending(item.id)
        return await self.poster.post(channel, msg, thread_ts=thread_ts, post_id=post_id)

    async def run(self, item: OutboxItem) -> None:
        """Make ``item``'s call and store the outcome; ClientError when Slack refused.
        The group and digest are read afresh: an action may have changed them."""
        payload: dict[str, Any] = item.payload
        kind = payload.get("kind")
        row = await self.state.group(str(payload["group_key"])) if "group_key" in payload else None
        digest_id = payload.get("digest_id") or (row.digest_id if row else None)
        digest = await self.state.digest(int(digest_id)) if digest_id is not None else None
        if item.topic == NOTICE_TOPIC:
            await self._notice(item)
        elif kind == "reply":
            await self._reply(item)
        elif kind in ("digest_post", "digest_update", "digest_details"):
            await self._digest(item, digest)
        elif kind == "notification":
            await self._notification(item, row or GroupRow(str(payload["group_key"])))
        elif row is None or (row.ts is None and row.digest_id is None):
            await self.state.finish(item.id)  # nothing posted for this group: nothing to do
        elif kind == "refresh":
            await self._show(item, row, [])
        elif kind == "note":
            await self._note(item, row, str(payload["text"]), digest)
        elif kind == "reconcile":
            await self._reconcile(item, row, set(payload["fingerprints"]))
        else:
            raise ValueError(f"unknown alerts item kind {kind!r}")

    async def _reply(self, item: OutboxItem) -> None:
        """An ephemeral reply to the user who pressed a button. Slack keeps no copy to look
        up, so a reply whose answer was lost is not sent again: at most once."""
        payload: dict[str, Any] = item.payload
        if item.sending_at is None:
            await self.state.sending(item.id)
            try:
                await self.poster.ephemeral(
                    str(payload["channel"]),
                    str(payload["user"]),
                    str(payload["text"]),
                    thread_ts=payload.get("thread_ts"),
                )
            except ClientError as err:
                if err.reason not in MAYBE_DONE:
                    raise
                log.warning("reply to %s may not have arrived: %s", payload["user"], err)
        await self.state.finish(item.id)

    async def _notice(self, item: OutboxItem) -> None:
        notice = Notice.from_dict(item.payload)
        parent = await self.state.message_of(notice.thread_key) if notice.thread_key else None
        thread_ts: str | None = None
        if parent is not None:
            channel, thread_ts = parent
        else:
            channel = self.call(item, None, None).channel or ""
        channel, ts = await self.post_once(item, channel, notice_message(notice), thread_ts)
        await self.state.remember_message(notice.key, channel, thread_ts or ts)
        await self.state.finish(item.id)
        self.metrics.latency.observe(max(0.0, self.clock() - item.created_at))

    async def _notification(self, item: OutboxItem, row: GroupRow) -> None:
        payload: dict[str, Any] = item.payload
        note = note_of(payload)
        received_at = float(payload["received_at"])
        if (
            row.status == "resolved"
            and note.status == "firing"
            and row.resolved_at is not None
            and received_at - row.resolved_at > REOPEN_WINDOW
            and row.digest_id is None
        ):
            row = GroupRow(row.group_key)  # a new incident: a new message
        row.view = note
        starts = [s for s in (a.starts_epoch() for a in note.alerts) if s is not None]
        row.started_at = min(starts) if starts else received_at
        row.status = note.status
        if note.status == "resolved":
            ends = [e for e in (a.ends_epoch() for a in note.alerts) if e is not None]
            row.resolved_at = max(ends) if ends else received_at
        else:
            row.resolved_at = None
        new = [a for a in note.alerts if a.fingerprint in set(payload.get("new", []))]
        first = row.ts is None and row.digest_id is None
        follow = [] if first or not new else [self._note_item(row, _changes(new))]
        await self._show(item, row, follow)
        self.metrics.latency.observe(max(0.0, self.clock() - received_at))

    async def _show(self, item: OutboxItem, row: GroupRow, follow: list[dict[str, Any]]) -> None:
        """Post the group's message, update it, or (in a digest) have the digest updated."""
        if row.digest_id is not None:
            await self.state.finish(item.id, [row], [digest_update(row.digest_id), *follow])
            return
        msg = message(group_view(row, self.routing), now=self.clock())
        if row.ts is not None and row.channel is not None:
            try:
                await self.poster.update(row.channel, row.ts, msg)
            except ClientError as err:
                if err.code != "message_not_found":
                    raise
                row.ts = None  # deleted in Slack: post it again
        if row.ts is None:
            channel = row.channel or self.routing.channel_for(_labels(row.view))
            row.channel, row.ts = await self.post_once(item, channel, msg)
        await self.state.finish(item.id, [row], follow)

    def _note_item(self, row: GroupRow, text: str) -> dict[str, Any]:
        return {
            "kind": "note",
            "group_key": row.group_key,
            "received_at": self.clock(),
            "text": text,
        }

    async def _note(
        self, item: OutboxItem, row: GroupRow, text: str, digest: Digest | None
    ) -> None:
        if row.digest_id is not None and digest is not None and digest.ts is not None:
            name = Member.of(row.group_key, row.view, row.status == "resolved").alertname
            await self.post_once(item, digest.channel, {"text": f"*{name}*: {text}"}, digest.ts)
        elif row.ts is not None and row.channel is not None:
            await self.post_once(item, row.channel, {"text": text}, row.ts)
        await self.state.finish(item.id)

    async def _reconcile(self, item: OutboxItem, row: GroupRow, gone: set[str]) -> None:
        view = row.view
        changed = (
            [a for a in view.alerts if a.status == "firing" and a.fingerprint in gone]
            if view
            else []
        )
        if view is None or not changed:
            await self.state.finish(item.id)
            return
        ended = _rfc3339(self.clock())
        alerts = tuple(
            replace(a, status="resolved", ends_at=ended) if a in changed else a for a in view.alerts
        )
        view = replace(view, alerts=alerts)
        if all(a.status == "resolved" for a in alerts):
            view = replace(view, status="resolved")
            row.status = "resolved"
            row.resolved_at = self.clock()
        row.view = view
        names = ", ".join(sorted({a.name for a in changed}))
        text = f"{len(changed)} alert(s) resolved (no longer active in Alertmanager): {names}"
        await self._show(item, row, [self._note_item(row, text)])

    async def _digest(self, item: OutboxItem, digest: Digest | None) -> None:
        payload: dict[str, Any] = item.payload
        if digest is None:
            await self.state.finish(item.id)
            return
        members = [
            Member.of(r.group_key, r.view, r.status == "resolved")
            for r in await self.state.members(digest.id)
        ]
        now = self.clock()
        msg = digest_message(
            digest.channel, members, opened_at=digest.opened_at, now=now, open_=not digest.closed_at
        )
        kind = payload["kind"]
        if kind == "digest_post":
            _, ts = await self.post_once(item, digest.channel, msg)
            await self.state.digest_posted(item.id, digest.id, ts)
        elif kind == "digest_update":
            if digest.ts is not None:
                await self.poster.update(digest.channel, digest.ts, msg)
            await self.state.finish(item.id)
        else:
            wanted = set(payload.get("group_keys", []))
            batch = [m for m in members if m.group_key in wanted]
            if batch and digest.ts is not None:
                await self.post_once(item, digest.channel, detail_reply(batch), digest.ts)
            await self.state.finish(item.id)
