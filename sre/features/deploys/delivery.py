"""Delivering the deploys feature's outbox items: Slack thread steps and Grafana annotations.

Items of one *lane* go in order (a thread's steps: post, then updates and replies; each
annotation is a lane of its own); a lane whose head waits for a retry holds only itself.
Deploys are rare, so items go one at a time, with no pacing beyond Slack's ``Retry-After``.

Delivery guarantees:

* a Slack ``post`` (the parent, or a reply) is made at most once: it carries
  ``sre-deploy-<item id>`` in its message metadata and the item is marked *sending* first;
  an item found so marked (no answer came, or the daemon died) first asks Slack whether the
  post arrived and keeps it if it did. An ``update`` renders the whole message from the row,
  so doing it twice is harmless;
* a Grafana annotation is created at least once, and a retry never creates a second: the
  item is marked *sending* before ``POST /api/annotations``, and an item so marked first
  looks for an annotation with the same tags, time and text (``GET /api/annotations``)
  and keeps its id. The id is stored (``deploy_annotations``).

On several replicas a leader term's delivery has a fenced state and poster, and ``guard``
checks the term right before each Grafana call (Grafana takes no fencing token).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from sre.clients import ClientError
from sre.clients.retry import Backoff
from sre.clients.slack import MAYBE_DONE, Poster
from sre.features.deploys import messages
from sre.features.deploys.metrics import DeployMetrics
from sre.features.deploys.state import GRAFANA_TOPIC, DeployState
from sre.runtime.store import OutboxItem

log = logging.getLogger(__name__)

BACKOFF = Backoff(base=1.0, cap=300.0)
IDLE_POLL = 1.0
GRAFANA_TIMEOUT = 10.0
Clock = Callable[[], float]


class Annotations(Protocol):
    """What delivery needs of Grafana (``sre.clients.grafana.GrafanaClient``)."""

    async def create_annotation(self, body: dict[str, Any]) -> int: ...
    async def find_annotations(
        self, tags: list[str], start_ms: int, end_ms: int, limit: int = 100
    ) -> list[dict[str, Any]]: ...


def lane_of(item: OutboxItem) -> str:
    payload = item.payload if isinstance(item.payload, dict) else {}
    if item.topic == GRAFANA_TOPIC:
        return f"a:{item.id}"
    return f"t:{payload.get('service')}@{payload.get('revision')}"


class Delivery:
    def __init__(
        self,
        state: DeployState,
        poster: Poster,
        grafana: Annotations | None,
        *,
        channel_for: Callable[[str], str],
        metrics: DeployMetrics,
        clock: Clock,
        guard: Callable[[str], None] | None = None,
    ) -> None:
        self.guard = guard
        self.state = state
        self.poster = poster
        self.grafana = grafana
        self.channel_for = channel_for
        self.metrics = metrics
        self.clock = clock

    async def run_once(self) -> float:
        """Deliver every item that is due; the seconds until one may be due."""
        now = self.clock()
        wait = IDLE_POLL
        held: set[str] = set()
        for item in await self.state.work():
            lane = lane_of(item)
            if lane in held:
                continue
            if item.next_attempt_at > now:
                held.add(lane)
                wait = min(wait, item.next_attempt_at - now)
                continue
            if not await self.deliver(item):
                held.add(lane)  # its retry time is read on the next pass
        return max(0.0, wait)

    async def deliver(self, item: OutboxItem) -> bool:
        """One item; True when it is settled (delivered or failed for good)."""
        target = "grafana" if item.topic == GRAFANA_TOPIC else "slack"
        try:
            if target == "grafana":
                await self._annotate(item)
            else:
                await self._slack(item)
        except ClientError as err:
            if err.retryable:
                delay = BACKOFF.delay(item.attempts, err.retry_after)
                maybe = target == "grafana" or err.reason in MAYBE_DONE
                await self.state.retry(item.id, str(err), delay, maybe_sent=maybe)
                self.metrics.deliveries.labels(target=target, result="retry").inc()
                log.warning(
                    "%s delivery of item %s will retry in %.0fs: %s", target, item.id, delay, err
                )
                return False
            await self.state.failed(item.id, str(err))
            self.metrics.deliveries.labels(target=target, result="permanent_error").inc()
            log.error("%s delivery of item %s failed permanently: %s", target, item.id, err)
            return True
        except (KeyError, TypeError, ValueError) as err:  # a malformed item: never retried
            await self.state.failed(item.id, f"bad item: {type(err).__name__}")
            self.metrics.deliveries.labels(target=target, result="permanent_error").inc()
            log.exception("deploys outbox item %s cannot be delivered", item.id)
            return True
        self.metrics.deliveries.labels(target=target, result="ok").inc()
        return True

    # ------------------------------------------------------------------ Slack

    async def _slack(self, item: OutboxItem) -> None:
        step: dict[str, Any] = item.payload
        thread = await self.state.thread(str(step["service"]), str(step["revision"]))
        op = step["op"]
        if thread is None or (op != "post" and thread.ts is None):
            await self.state.done(item.id)  # no thread, or its post never made it
            return
        if op == "update":
            assert thread.channel is not None and thread.ts is not None
            await self.poster.update(thread.channel, thread.ts, messages.parent(thread))
            await self.state.done(item.id)
        elif op == "post":
            if thread.ts is not None:  # posted already (an item queued twice)
                await self.state.done(item.id)
                return
            channel = self.channel_for(thread.service)
            channel, ts = await self._post_once(item, channel, messages.parent(thread), None)
            await self.state.posted(item.id, thread, channel, ts)
        elif op == "reply":
            assert thread.channel is not None
            reply = messages.reply(str(step["text"]))
            await self._post_once(item, thread.channel, reply, thread.ts)
            await self.state.done(item.id)
        else:
            raise ValueError(f"unknown step {op!r}")

    async def _post_once(
        self, item: OutboxItem, channel: str, msg: dict[str, Any], thread_ts: str | None
    ) -> tuple[str, str]:
        post_id = f"sre-deploy-{item.id}"
        if item.sending_at is not None:  # an earlier attempt may have arrived
            found = await self.poster.find(
                channel, post_id, since=item.sending_at, thread_ts=thread_ts
            )
            if found is not None:
                log.info("deploy post %s arrived before its answer was lost: kept", item.id)
                return found
        await self.state.sending(item.id, "slack_post")
        return await self.poster.post(channel, msg, thread_ts=thread_ts, post_id=post_id)

    # ------------------------------------------------------------------ Grafana

    async def _annotate(self, item: OutboxItem) -> None:
        body: dict[str, Any] = item.payload["annotation"]
        kind = str(body["tags"][0])
        if self.grafana is None:  # switched off since it was queued
            await self.state.done(item.id)
            return
        if item.sending_at is not None:
            found = await self._find(body)
            if found is not None:
                log.info("annotation %s was created before its answer was lost: kept", item.id)
                await self.state.annotated(item.id, str(item.key), found)
                self.metrics.annotations.labels(kind=kind, result="adopted").inc()
                return
        await self.state.sending(item.id, "annotation")
        if self.guard is not None:
            self.guard("annotation")
        made = await self._timed(self.grafana.create_annotation(body))
        await self.state.annotated(item.id, str(item.key), made)
        self.metrics.annotations.labels(kind=kind, result="created").inc()

    async def _find(self, body: dict[str, Any]) -> int | None:
        assert self.grafana is not None
        at = int(body["time"])
        same = await self._timed(self.grafana.find_annotations(list(body["tags"]), at, at))
        for found in same:
            if found.get("text") == body["text"] and found.get("time") == at:
                return int(found["id"])
        return None

    async def _timed(self, call: Any) -> Any:
        try:
            return await asyncio.wait_for(call, GRAFANA_TIMEOUT)
        except TimeoutError:
            raise ClientError(
                "unreachable", f"Grafana gave no answer within {GRAFANA_TIMEOUT:g}s", retryable=True
            ) from None
