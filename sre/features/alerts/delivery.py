"""The outbox delivery worker: alert groups (topic ``alerts``) and notices (``notice``).

Order: items are delivered strictly in receipt order *per group* (an alert group, or a
notice thread). Each pass takes the oldest pending item of every group; a group whose head
waits for a retry waits as a whole, while other groups go on. Groups are delivered
concurrently (bounded).

Errors: a retryable ``ClientError`` (5xx, connection, timeout, 429) puts the item back with
exponential backoff (or Slack's ``Retry-After``) and pauses the worker for that long, since
Slack being down affects every group; a permanent one marks the item failed, counted as
``permanent_error``. Nothing is deleted: a restart picks up where the store says.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sre.clients import ClientError
from sre.clients.retry import Backoff
from sre.clients.slack import Poster
from sre.features.alerts.messages import GroupView, message, notice_message, thread_reply
from sre.features.alerts.metrics import AlertMetrics
from sre.features.alerts.model import Alert, Notification
from sre.features.alerts.state import AlertState, GroupRow
from sre.runtime.notices import NOTICE_TOPIC, Notice
from sre.runtime.store import OutboxItem

log = logging.getLogger(__name__)

BACKOFF = Backoff(base=0.5, cap=60.0)
IDLE_POLL = 1.0  # notices from other features arrive without a wake-up
CONCURRENCY = 8
REOPEN_WINDOW = 3600.0  # a group firing again within this after resolving reuses its message
Clock = Callable[[], float]


@dataclass
class Routing:
    channel_for: Callable[[dict[str, str]], str]
    alertmanager_url: str  # for silence links ("" = none)
    has_rollback: Callable[[str], bool]  # a service with a rollback target gets the button


def group_view(row: GroupRow, routing: Routing, status: str | None = None) -> GroupView:
    view = row.view
    common = dict(view.common_labels) if view else {}
    service = common.get("service", "")
    rollback = service if service and routing.has_rollback(service) else None
    return GroupView(
        group_key=row.group_key,
        status=status or row.status,
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
        rollback_service=rollback,
    )


def _changes(alerts: list[Alert]) -> str:
    lines = []
    for status in ("firing", "resolved"):
        subset = [a for a in alerts if a.status == status]
        if subset:
            lines.append(thread_reply(subset, status))
    return "\n".join(lines)


class Delivery:
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
        self.wake = asyncio.Event()
        self._pause_until = 0.0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._sem = asyncio.Semaphore(CONCURRENCY)

    # ------------------------------------------------------------------ loop

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="alerts-delivery")

    async def stop(self, timeout: float) -> None:
        """Finish the pass in flight (bounded), then stop; what is left stays pending."""
        if self._task is None:
            return
        self._stopping = True
        self.wake.set()
        _, running = await asyncio.wait({self._task}, timeout=timeout)
        for task in running:
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)

    async def _run(self) -> None:
        while not self._stopping:
            self.wake.clear()
            try:
                wait = await self.run_once()
            except Exception:
                log.exception("alert delivery pass failed")
                wait = IDLE_POLL
            if wait > 0 and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout=wait)

    async def run_once(self) -> float:
        """Deliver the due head of every group; return how long to wait before the next."""
        now = self.clock()
        if now < self._pause_until:
            return self._pause_until - now
        heads: list[OutboxItem] = []
        next_due = now + IDLE_POLL
        seen: set[str] = set()
        for item in await self.state.pending():
            group = self._group_of(item)
            if group in seen:
                continue
            seen.add(group)
            if item.next_attempt_at <= now:
                heads.append(item)
            else:
                next_due = min(next_due, item.next_attempt_at)
        if not heads:
            return max(0.0, next_due - now)
        await asyncio.gather(*(self._guarded(item) for item in heads))
        return 0.0

    @staticmethod
    def _group_of(item: OutboxItem) -> str:
        payload = item.payload if isinstance(item.payload, dict) else {}
        if item.topic == NOTICE_TOPIC:
            return f"n:{payload.get('thread_key') or item.key}"
        return f"g:{payload.get('group_key')}"

    async def _guarded(self, item: OutboxItem) -> None:
        async with self._sem:
            if self.clock() < self._pause_until:
                return
            try:
                if item.topic == NOTICE_TOPIC:
                    await self._notice(item)
                else:
                    await self._alerts(item)
            except ClientError as err:
                await self._failed(item, err)
                return
            except Exception as err:  # a malformed item must not block its group forever
                log.exception("outbox item %s (%s) cannot be delivered", item.id, item.topic)
                await self.state.failed(item.id, f"bad item: {type(err).__name__}")
                self.metrics.deliveries.labels(result="permanent_error").inc()
                return
            await self.state.delivered(item.id)
            self.metrics.deliveries.labels(result="ok").inc()

    async def _failed(self, item: OutboxItem, err: ClientError) -> None:
        if err.retryable:
            delay = BACKOFF.delay(item.attempts, err.retry_after)
            await self.state.retry(item.id, str(err), delay)
            self._pause_until = max(self._pause_until, self.clock() + delay)
            self.metrics.deliveries.labels(result="retry").inc()
            log.warning("Slack delivery of item %s will retry in %.1fs: %s", item.id, delay, err)
        else:
            await self.state.failed(item.id, str(err))
            self.metrics.deliveries.labels(result="permanent_error").inc()
            log.error("Slack delivery of item %s failed permanently: %s", item.id, err)

    # ------------------------------------------------------------------ notices

    async def _notice(self, item: OutboxItem) -> None:
        notice = Notice.from_dict(item.payload)
        parent = await self.state.message_of(notice.thread_key) if notice.thread_key else None
        if parent is not None:
            channel, thread_ts = parent
        else:
            channel = self.routing.channel_for(dict(notice.to_dict()["labels"]))
            thread_ts = None
        channel, ts = await self.poster.post(channel, notice_message(notice), thread_ts=thread_ts)
        await self.state.remember_message(notice.key, channel, thread_ts or ts)
        self.metrics.latency.observe(max(0.0, self.clock() - item.created_at))

    # ------------------------------------------------------------------ alert groups

    async def _alerts(self, item: OutboxItem) -> None:
        payload: dict[str, Any] = item.payload
        key = str(payload["group_key"])
        row = await self.state.group(key)
        kind = payload["kind"]
        if kind == "notification":
            await self._notification(item, row or GroupRow(key), payload)
        elif row is None or row.ts is None or row.channel is None:
            return  # nothing posted for this group: nothing to refresh or reply to
        elif kind == "refresh":
            await self._update(row, item)
        elif kind == "note":
            await self.poster.post(row.channel, {"text": str(payload["text"])}, thread_ts=row.ts)
        elif kind == "reconcile":
            await self._reconcile(item, row, set(payload["fingerprints"]))
        else:
            raise ValueError(f"unknown alerts item kind {kind!r}")

    async def _notification(self, item: OutboxItem, row: GroupRow, payload: dict[str, Any]) -> None:
        if "notification" in payload:
            note = Notification.from_dict(payload["notification"])
        else:  # queued before the typed model: the raw webhook body
            note = Notification.from_dict(json.loads(str(payload["body"])))
        received_at = float(payload["received_at"])
        if (
            row.status == "resolved"
            and note.status == "firing"
            and row.resolved_at is not None
            and received_at - row.resolved_at > REOPEN_WINDOW
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
        first = row.ts is None
        await self._update(row, item)
        self.metrics.latency.observe(max(0.0, self.clock() - received_at))
        if not first and new:
            await self.poster.post(str(row.channel), {"text": _changes(new)}, thread_ts=row.ts)

    async def _reconcile(self, item: OutboxItem, row: GroupRow, gone: set[str]) -> None:
        view = row.view
        if view is None:
            return
        ended = _rfc3339(self.clock())
        changed = [a for a in view.alerts if a.status == "firing" and a.fingerprint in gone]
        if not changed:
            return
        alerts = tuple(
            replace(a, status="resolved", ends_at=ended) if a in changed else a for a in view.alerts
        )
        view = replace(view, alerts=alerts)
        if all(a.status == "resolved" for a in alerts):
            view = replace(view, status="resolved")
            row.status = "resolved"
            row.resolved_at = self.clock()
        row.view = view
        await self._update(row, item)
        names = ", ".join(sorted({a.name for a in changed}))
        text = f"{len(changed)} alert(s) resolved (no longer active in Alertmanager): {names}"
        await self.poster.post(str(row.channel), {"text": text}, thread_ts=row.ts)

    async def _update(self, row: GroupRow, item: OutboxItem) -> None:
        """Post the group's message, or update it; remember that this item did it."""
        if row.applied_item == item.id:
            return  # done before a crash or a failed thread reply: do not repeat
        msg = message(group_view(row, self.routing), now=self.clock())
        if row.ts is not None and row.channel is not None:
            try:
                await self.poster.update(row.channel, row.ts, msg)
            except ClientError as err:
                if err.code != "message_not_found":
                    raise
                row.ts = None  # deleted in Slack: post it again
        if row.ts is None:
            view = row.view
            labels = {**view.group_labels, **view.common_labels} if view else {}
            channel = row.channel or self.routing.channel_for(labels)
            row.channel, row.ts = await self.poster.post(channel, msg)
        row.applied_item = item.id
        await self.state.save_group(row)


def _rfc3339(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
