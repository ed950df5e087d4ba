"""PagerDuty delivery for the dead man's switch: events from the outbox, in order.

The state transitions queue PagerDuty events (without the routing key) in the outbox topic
``heartbeat.pagerduty``; :meth:`Pager.deliver` sends them oldest first, strictly in order
(an outage's resolve never overtakes its trigger): a retryable failure puts the item back
after the shared backoff (or PagerDuty's 429 wait) and stops this round; a refusal (400, a
wrong routing key) fails the item, logged and counted, and the next goes. PagerDuty
deduplicates on ``dedup_key``, so an event sent twice (a lost answer, two replicas) is
harmless. A restart picks up what is pending.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sre.clients import ClientError
from sre.clients.pagerduty import PagerDutyClient
from sre.clients.retry import Backoff
from sre.features.heartbeat.metrics import HeartbeatMetrics
from sre.runtime.ha import Term
from sre.runtime.store import Store

log = logging.getLogger(__name__)

TOPIC = "heartbeat.pagerduty"
BACKOFF = Backoff(base=2.0, cap=300.0)
DELIVERED_KEEP_SECONDS = 30 * 86400
PRUNE_EVERY = 3600.0


class Pager:
    def __init__(
        self,
        client: PagerDutyClient,
        store: Store,
        metrics: HeartbeatMetrics,
        clock: Callable[[], float],
    ) -> None:
        self.client = client
        self.store = store
        self.metrics = metrics
        self.clock = clock
        self._lock = asyncio.Lock()  # one round at a time: the receiver and the job both call
        self._pruned_at = float("-inf")

    def queue(self, event: dict[str, object]) -> None:
        """Blocking, inside the caller's store transaction (the outbox row commits with it)."""
        key = f"{event['event_action']}:{event['dedup_key']}"
        self.store.outbox_add(TOPIC, event, key)

    async def deliver(self, term: Term | None = None) -> int:
        """Send what is due, in order; the number sent. ``term``: the leader term this runs
        in (Fenced once it is over: PagerDuty takes no fencing token, so each send is
        checked first; its ``dedup_key`` absorbs the rare send that slips through)."""
        async with self._lock:
            items = await self.store.run(self.store.outbox_pending, [TOPIC], 100)
            sent = 0
            for item in items:
                if item.next_attempt_at > self.clock():
                    break  # strict order: nothing overtakes an item waiting for its retry
                action = str(item.payload.get("event_action", "event"))
                dedup = str(item.payload.get("dedup_key", ""))
                if term is not None:
                    term.guard("pagerduty")
                try:
                    await self.client.send(item.payload)
                except ClientError as err:
                    self.metrics.pagerduty.labels(action=action, result=err.reason).inc()
                    if err.retryable:
                        delay = BACKOFF.delay(item.attempts, err.retry_after)
                        log.warning(
                            "PagerDuty %s of %s not sent, retry in %.0fs: %s",
                            action, dedup, delay, err,
                        )  # fmt: skip
                        await self.store.run(self.store.outbox_retry, item.id, str(err), delay)
                        break
                    log.error("PagerDuty %s of %s refused, not retried: %s", action, dedup, err)
                    await self.store.run(self.store.outbox_failed, item.id, str(err))
                    continue
                self.metrics.pagerduty.labels(action=action, result="accepted").inc()
                await self.store.run(self.store.outbox_delivered, item.id)
                log.info("PagerDuty %s of %s accepted", action, dedup)
                sent += 1
            return sent

    async def prune(self) -> int:
        """Drop events delivered over 30 days ago; at most hourly (the check runs often)."""
        now = self.clock()
        if now - self._pruned_at < PRUNE_EVERY:
            return 0
        self._pruned_at = now
        return await self.store.run(self.store.outbox_prune, [TOPIC], now - DELIVERED_KEEP_SECONDS)
