"""The outbox delivery loop: which item goes to Slack next, and when.

Items of one *lane* (an alert group, a notice thread, a digest: ``lanes.py``) go strictly
in order; only a lane's oldest pending item is a candidate. Candidates are started by
priority (critical before warning before the rest), oldest first within a priority, each
only when its Slack limit has room (``pacing.py``): a rate-limited channel waits without
holding a slot, and a 429 pauses only the key it came from. When a channel's waiting first
posts would take longer than ``slack.digest_after``, they go into a digest (``digest.py``).

Failures: a retryable ``ClientError`` puts the item back after the shared backoff (or
Slack's ``Retry-After``); one that may have reached Slack keeps its *sending* mark so the
next attempt looks before it posts (``steps.py``). A permanent error fails the item,
counted. The store failing (a full disk) is neither: nothing is marked, the loop backs off
as a whole and carries on when the store is back. A restart loads what the store says.
A fenced step (this replica's leader term is over) ends the loop: nothing is marked, and
the next leader's delivery takes the item.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from sre.clients import ClientError
from sre.clients.retry import Backoff
from sre.clients.slack import MAYBE_DONE
from sre.features.alerts import lanes
from sre.features.alerts.digest import Member, Waiting, detail_batches, split_storm, storm_over
from sre.features.alerts.lanes import kind_of
from sre.features.alerts.metrics import AlertMetrics
from sre.features.alerts.pacing import Pacer
from sre.features.alerts.state import AlertState, Digest, GroupRow
from sre.features.alerts.steps import NONE, POST, Call, Steps, note_of
from sre.runtime.ha import Fenced
from sre.runtime.notices import NOTICE_TOPIC
from sre.runtime.store import OutboxItem, StoreError, StoreUnavailable

log = logging.getLogger(__name__)

BACKOFF = Backoff(base=0.5, cap=60.0)
STORE_BACKOFF = Backoff(base=1.0, cap=30.0)
IDLE_POLL = 1.0  # items queued by others (another replica) arrive without a wake-up
MAX_IN_FLIGHT = 16
PASS_GAP = 0.02  # seconds between planning passes, whatever wakes the loop
Clock = Callable[[], float]


@dataclass
class Candidate:
    item: OutboxItem
    lane: str
    call: Call


class Delivery:
    def __init__(
        self,
        state: AlertState,
        steps: Steps,
        metrics: AlertMetrics,
        clock: Clock,
        *,
        digest_after: float,
        pacer: Pacer | None = None,
        monotonic: Clock = time.monotonic,
    ) -> None:
        self.state = state
        self.steps = steps
        self.metrics = metrics
        self.clock = clock
        self.monotonic = monotonic
        self.digest_after = digest_after
        self.pacer = pacer or Pacer()
        self.wake = asyncio.Event()
        self.items: dict[int, OutboxItem] = {}  # pending, as last read or changed by us
        self.groups: dict[str, GroupRow | None] = {}  # what delivery knows of each group
        self.digests: dict[int, Digest] = {}
        self.open_digest: dict[str, int] = {}  # channel -> its digest collecting groups
        self.busy: set[str] = set()  # lanes with an item in flight
        self.arrivals: dict[str, dict[str, float]] = {}  # channel -> lane -> first seen
        self.tasks: set[asyncio.Task[None]] = set()
        self._last_id = 0
        self._loaded = False
        self._loaded_at = 0.0
        self._store_failures = 0
        self._paused_until = 0.0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # ------------------------------------------------------------------ loop

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="alerts-delivery")

    async def stop(self, timeout: float) -> None:
        """Let calls in flight finish (bounded), then stop; what is left stays pending."""
        self._stopping = True
        self.wake.set()
        running = {t for t in [self._task, *self.tasks] if t is not None}
        if running:
            _, late = await asyncio.wait(running, timeout=timeout)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=1.0)

    async def _run(self) -> None:
        while not self._stopping:
            self.wake.clear()
            try:
                wait = await self.run_once()
                self._store_failures = 0
            except (StoreUnavailable, StoreError) as err:
                wait = self._store_down(err)
            except Fenced:
                self._fenced()
                return
            except Exception:
                log.exception("alert delivery pass failed")
                wait = IDLE_POLL
            # A storm wakes the loop once per webhook, and planning a pass costs in
            # proportion to the backlog: passes are PASS_GAP apart at least.
            await asyncio.sleep(PASS_GAP)
            if wait > PASS_GAP and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout=wait - PASS_GAP)

    def _fenced(self) -> None:
        if not self._stopping:
            log.warning("alert delivery stopped: this replica's leader term is over")
        self._stopping = True
        self.wake.set()

    def _store_down(self, err: Exception) -> float:
        """The store cannot be read or written: wait as a whole, mark nothing, go on."""
        self.metrics.store_errors.inc()
        wait = STORE_BACKOFF.delay(self._store_failures)
        if self._store_failures == 0:
            log.error("alert delivery paused, the state store is unavailable: %s", err)
        self._store_failures += 1
        self._paused_until = self.monotonic() + wait
        return wait

    async def run_once(self) -> float:
        """One planning pass: start what may start; the seconds until the next pass."""
        now = self.monotonic()
        if now < self._paused_until:
            return self._paused_until - now
        if not self._loaded:  # after a restart: the storms still going on
            for digest in await self.state.open_digests():
                self.digests[digest.id] = digest
                self.open_digest[digest.channel] = digest.id
            self._loaded, self._loaded_at = True, now
        for item in await self.state.pending(after=self._last_id):
            self.items[item.id] = item
            self._last_id = max(self._last_id, item.id)
        candidates = await self._candidates()
        await self._storms(candidates)
        return self._dispatch([c for c in candidates if c.item.id in self.items])

    async def _candidates(self) -> list[Candidate]:
        heads, stale = lanes.heads(self.items.values(), self.busy)
        if stale:
            await self.state.superseded(stale)
            for item_id in stale:
                self.items.pop(item_id, None)
        unknown = [
            str(i.payload.get("group_key"))
            for i in heads.values()
            if i.topic != NOTICE_TOPIC
            and "group_key" in i.payload
            and i.payload["group_key"] not in self.groups
        ]
        if unknown:
            found = await self.state.groups(unknown)
            self.groups.update({k: found.get(k) for k in unknown})
        for item in heads.values():
            digest_id = self._digest_id(item)
            if digest_id is not None and digest_id not in self.digests:
                digest = await self.state.digest(digest_id)
                if digest is not None:
                    self.digests[digest_id] = digest
        return [
            Candidate(item, lane, self.steps.call(item, self._row(item), self._digest(item)))
            for lane, item in heads.items()
            if lane not in self.busy and not self._before_its_digest(item)
        ]

    def _before_its_digest(self, item: OutboxItem) -> bool:
        """A digest's detail replies wait until the digest itself is posted."""
        digest = self._digest(item)
        return kind_of(item) == "digest_details" and digest is not None and digest.ts is None

    def _row(self, item: OutboxItem) -> GroupRow | None:
        key = item.payload.get("group_key") if isinstance(item.payload, dict) else None
        return self.groups.get(str(key)) if key is not None else None

    def _digest_id(self, item: OutboxItem) -> int | None:
        payload = item.payload if isinstance(item.payload, dict) else {}
        if "digest_id" in payload:
            return int(payload["digest_id"])
        row = self._row(item)
        return row.digest_id if row is not None else None

    def _digest(self, item: OutboxItem) -> Digest | None:
        digest_id = self._digest_id(item)
        return self.digests.get(digest_id) if digest_id is not None else None

    # ------------------------------------------------------------------ storms

    async def _storms(self, candidates: list[Candidate]) -> None:
        """Per channel: first posts that would take longer than the bound go in a digest."""
        waiting: dict[str, list[Waiting]] = {}
        by_lane = {c.lane: c for c in candidates}
        for c in candidates:
            first = c.item.topic != NOTICE_TOPIC and c.item.payload.get("kind") == "notification"
            if c.call.kind == POST and first and c.call.channel is not None:
                waiting.setdefault(c.call.channel, []).append(
                    Waiting(c.lane, c.item.id, c.call.priority)
                )
        capacity = math.floor(self.digest_after * self.pacer.rate(POST).per_second)
        now = self.monotonic()
        for channel in set(waiting) | set(self.open_digest) | set(self.arrivals):
            pressure = self._pressure(channel, waiting.get(channel, []), now)
            found = waiting.get(channel, [])
            open_id = self.open_digest.get(channel)
            # After a restart nothing is known of the arrivals before it: wait the bound.
            settled = now - self._loaded_at >= self.digest_after
            if open_id is not None and settled and storm_over(pressure, capacity):
                await self.state.close_digest(open_id)
                del self.open_digest[channel]
                log.info("storm over in %s: new groups get their own messages again", channel)
                continue
            _, digested = split_storm(found, capacity=capacity, digest_open=open_id is not None)
            if digested:
                await self._digest_groups(channel, [by_lane[w.lane] for w in digested])

    def _pressure(self, channel: str, waiting: list[Waiting], now: float) -> int:
        """Groups waiting now plus those that arrived within the last ``digest_after``: a
        storm is only over when it stopped arriving, not when the digest took it all."""
        seen = self.arrivals.setdefault(channel, {})
        for w in waiting:
            seen.setdefault(w.lane, now)
        for lane, at in list(seen.items()):
            if now - at > self.digest_after:
                del seen[lane]
        return len(seen)

    async def _digest_groups(self, channel: str, chosen: list[Candidate]) -> None:
        digest_id = self.open_digest.get(channel)
        if digest_id is None:
            digest = await self.state.open_digest(channel, {"kind": "digest_post"})
            self.digests[digest.id] = digest
            digest_id = self.open_digest[channel] = digest.id
            await self._refresh()
            log.warning("alert storm in %s: a digest collects the groups that wait", channel)
        rows = []
        for c in chosen:
            note = note_of(c.item.payload)
            row = self.groups.get(note.group_key) or GroupRow(note.group_key)
            row.view, row.status, row.digest_id = note, note.status, digest_id
            row.started_at = row.started_at or c.item.created_at
            rows.append(row)
        members = [Member.of(r.group_key, r.view, r.status == "resolved") for r in rows]
        follow = [
            {
                "kind": "digest_details",
                "digest_id": digest_id,
                "group_keys": [m.group_key for m in b],
            }
            for b in detail_batches(members)
        ]
        follow.append({"kind": "digest_update", "digest_id": digest_id})
        await self.state.digested([c.item.id for c in chosen], rows, follow)
        for c, row in zip(chosen, rows, strict=True):
            self.items.pop(c.item.id, None)
            self.groups[row.group_key] = row
        self.metrics.digested.inc(len(chosen))

    async def _refresh(self) -> None:
        for item in await self.state.pending(after=self._last_id):
            self.items[item.id] = item
            self._last_id = max(self._last_id, item.id)

    # ------------------------------------------------------------------ starting calls

    def _dispatch(self, candidates: list[Candidate]) -> float:
        """Start every candidate whose limit has room, by priority; the seconds until
        the next one could start."""
        now_wall, now = self.clock(), self.monotonic()
        next_at = now + IDLE_POLL
        for c in sorted(candidates, key=lambda c: (c.call.priority, c.item.id)):
            if c.item.next_attempt_at > now_wall:
                next_at = min(next_at, now + c.item.next_attempt_at - now_wall)
                continue
            if len(self.tasks) >= MAX_IN_FLIGHT:
                break
            key = self.pacer.key(c.call.kind, c.call.channel) if c.call.kind != NONE else None
            if key is not None and not self.pacer.take(key, now):
                next_at = min(next_at, self.pacer.ready_at(key, now))
                continue
            self.busy.add(c.lane)
            task = asyncio.get_running_loop().create_task(self._deliver(c, key))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return max(0.0, next_at - now)

    async def _deliver(self, c: Candidate, key: str | None) -> None:
        item = c.item
        started = self.clock()  # before anything could reach Slack
        try:
            await self.steps.run(item)
        except ClientError as err:
            await self._failed(c, key, err, started)
        except (StoreUnavailable, StoreError) as err:
            self._store_down(err)  # nothing marked: the item is tried again, and checked
        except Fenced:
            self._fenced()  # nothing marked: the next leader delivers it
        except Exception as err:  # a malformed item must not block its lane forever
            log.exception("outbox item %s (%s) cannot be delivered", item.id, item.topic)
            await self._settle(item, failed=f"bad item: {type(err).__name__}")
        else:
            self.items.pop(item.id, None)
            self.metrics.deliveries.labels(result="ok").inc()
            await self._forget(item)
        finally:
            self.busy.discard(c.lane)
            self.wake.set()

    async def _forget(self, item: OutboxItem) -> None:
        """What delivery knows of the item's group or digest is stale now: re-read later."""
        key = item.payload.get("group_key") if isinstance(item.payload, dict) else None
        if key is not None:
            self.groups.pop(str(key), None)
        digest_id = item.payload.get("digest_id") if isinstance(item.payload, dict) else None
        if digest_id is not None:
            self.digests.pop(int(digest_id), None)
        await self._refresh()  # follow-ups it queued

    async def _failed(
        self, c: Candidate, key: str | None, err: ClientError, started: float
    ) -> None:
        item = c.item
        if not err.retryable:
            log.error("Slack delivery of item %s failed permanently: %s", item.id, err)
            await self._settle(item, failed=str(err))
            return
        if err.retry_after is not None and key is not None:
            self.pacer.blocked(key, err.retry_after, self.monotonic())
            self.metrics.rate_limited.inc()
        delay = BACKOFF.delay(item.attempts, err.retry_after)
        maybe_sent = err.reason in MAYBE_DONE
        try:
            await self.state.retry(item.id, str(err), delay, maybe_sent=maybe_sent)
        except (StoreUnavailable, StoreError) as store_err:
            self._store_down(store_err)
            return
        # The store keeps the mark written before the call; this copy must say the same
        # (the attempt's start, not now: a timeout comes 10 s after the post landed).
        sending = (item.sending_at or started) if maybe_sent else None
        self.items[item.id] = replace(
            item,
            attempts=item.attempts + 1,
            next_attempt_at=self.clock() + delay,
            last_error=str(err),
            sending_at=sending,
        )
        self.metrics.deliveries.labels(result="retry").inc()
        log.warning("Slack delivery of item %s will retry in %.1fs: %s", item.id, delay, err)

    async def _settle(self, item: OutboxItem, *, failed: str) -> None:
        try:
            await self.state.failed(item.id, failed)
        except (StoreUnavailable, StoreError) as err:
            self._store_down(err)
            return
        self.items.pop(item.id, None)
        self.metrics.deliveries.labels(result="permanent_error").inc()
