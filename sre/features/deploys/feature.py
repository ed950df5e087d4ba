"""The deploys feature: deploy threads in Slack and annotations in Grafana, from events.

It consumes the events other features publish (``sre.runtime.events``): the rollback
feature's ``deploy`` (a new revision), ``verdict`` and ``rollback`` events, the alerts
feature's ``silence`` events. For each it updates its threads (``model.py``: what to do,
``state.py``: in one transaction with marking the event done) and queues Slack steps and
Grafana annotations, which ``delivery.py`` delivers. When a thread's watch window ends its
outcome is decided from the latest verdict on its revision.

One background loop does all three (consume, settle, deliver), woken when an event is
published and polling every second otherwise. Without a ``deploys`` section there are no
threads; without Grafana (or its token) no annotations; the events are consumed either way.
On several replicas only the leader runs the loop, with its state, Slack poster and Grafana
calls fenced by its term (docs/ha.md); the others skip their turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import CollectorRegistry

from sre.clients.retry import Backoff
from sre.clients.slack import Poster
from sre.config import DeploysConfig, Service
from sre.features.deploys.delivery import Annotations, Delivery
from sre.features.deploys.metrics import DeployMetrics
from sre.features.deploys.model import Reaction, Settings, react, settle
from sre.features.deploys.state import DeployState
from sre.runtime.events import Event, EventLog
from sre.runtime.feature import Feature
from sre.runtime.ha import SOLO, Cluster, Fenced, Term
from sre.runtime.ha.guards import FencedPoster
from sre.runtime.jobs import JobSpec
from sre.runtime.store import Store, StoreError, StoreUnavailable

log = logging.getLogger(__name__)

IDLE_POLL = 1.0
KEEP_DONE = 7 * 86400.0  # delivered events and steps are kept this long (their keys too)
STORE_BACKOFF = Backoff(base=1.0, cap=30.0)
Clock = Callable[[], float]
ChannelFor = Callable[[dict[str, str]], str]


class DeploysFeature(Feature):
    name = "deploys"

    def __init__(
        self,
        deploys: DeploysConfig | None,
        services: Sequence[Service],
        *,
        channel_for: ChannelFor | None,
        poster: Poster,
        grafana: Annotations | None,
        store: Store,
        events: EventLog,
        registry: CollectorRegistry,
        clock: Clock,
        cluster: Cluster = SOLO,
    ) -> None:
        watch = {
            s.name: deploys.watch_for(s.rollback.after_deploy).seconds
            for s in services
            if deploys is not None and s.rollback is not None
        }
        self.settings = Settings(
            threads=deploys is not None, annotations=grafana is not None, watch=watch
        )
        self.channel = deploys.channel if deploys else None
        self.route = channel_for
        self.clock = clock
        self.poster = poster
        self.grafana = grafana
        self.store, self.cluster = store, cluster
        self.unfenced = DeployState(store)
        self.metrics = DeployMetrics(registry, watch)
        self.metrics.watch_pending(self.unfenced.pending_count)
        self.state, self.delivery = self._working(self.unfenced, poster)
        self._term: Term | None = None
        self.wake = asyncio.Event()
        events.subscribe(self.wake.set)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._store_failures = 0

    def _working(
        self, state: DeployState, poster: Poster, term: Term | None = None
    ) -> tuple[DeployState, Delivery]:
        delivery = Delivery(
            state,
            poster,
            self.grafana,
            channel_for=self.channel_for,
            metrics=self.metrics,
            clock=self.clock,
            guard=term.guard if term is not None else None,
        )
        return state, delivery

    def _follow(self, term: Term) -> None:
        """A new leader term works through a state and a poster fenced by it."""
        if term is self._term or not self.cluster.shared:
            return
        self._term = term
        fenced = FencedPoster(self.poster, term, self.store)
        self.state, self.delivery = self._working(self.unfenced.fenced(term), fenced, term)
        log.info("deploys: consuming and delivering (leader term %d)", term.number)

    def channel_for(self, service: str) -> str:
        if self.channel:
            return self.channel
        if self.route is None:
            return "console"
        return self.route({"source": "deploy", "service": service, "severity": "info"})

    # ------------------------------------------------------------------ seam

    def jobs(self) -> Sequence[JobSpec]:
        return [JobSpec("deploys.prune", self.prune, IntervalTrigger(hours=1))]

    async def start(self) -> None:
        threads = (
            f"threads for {len(self.settings.watch)} service(s)"
            if self.settings.threads
            else "no threads (deploys: section absent)"
        )
        annotations = "annotations on" if self.settings.annotations else "annotations off"
        log.info("deploys: %s, %s", threads, annotations)
        await self.poster.open()
        self._task = asyncio.create_task(self._run(), name="deploys")

    async def stop(self, timeout: float) -> None:
        """Finish the pass in flight (bounded); what is left stays in the outbox."""
        self._stopping = True
        self.wake.set()
        if self._task is not None:
            _, late = await asyncio.wait({self._task}, timeout=timeout)
            for task in late:
                task.cancel()
        await self.poster.close()

    async def prune(self) -> None:
        await self.unfenced.prune(self.clock() - KEEP_DONE)

    # ------------------------------------------------------------------ the loop

    async def _run(self) -> None:
        while not self._stopping:
            self.wake.clear()
            try:
                term = self.cluster.leading()
                if term is None:  # another replica consumes and delivers
                    wait = IDLE_POLL
                else:
                    self._follow(term)
                    wait = await self.run_once()
                self._store_failures = 0
            except Fenced as err:
                log.info("deploys: %s; the new leader carries on", err)
                wait = IDLE_POLL
            except (StoreUnavailable, StoreError) as err:
                wait = STORE_BACKOFF.delay(self._store_failures)
                if self._store_failures == 0:
                    log.error("deploys paused, the state store is unavailable: %s", err)
                self._store_failures += 1
            except Exception:
                log.exception("deploys pass failed")
                wait = IDLE_POLL
            if not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout=wait)

    async def run_once(self) -> float:
        """Consume the events, settle the threads whose window ended, deliver; the
        seconds until the next pass is needed."""
        await self.consume()
        await self.settle_due()
        return min(IDLE_POLL, await self.delivery.run_once())

    async def consume(self) -> None:
        for item in await self.state.events():
            try:
                event = Event.from_dict(item.payload)
            except (KeyError, TypeError, ValueError) as err:
                await self.state.failed(item.id, f"not an event: {type(err).__name__}")
                continue
            revision = event.data.get("revision")
            thread = None
            if revision is not None and event.service:
                thread = await self.state.thread(event.service, str(revision))
            others = await self.state.rolling_out(event.service) if event.kind == "deploy" else []
            reaction = react(event, thread, others, self.settings, self.clock())
            await self.state.apply(reaction, event.key, item.id)
            self._settled(reaction)
            if reaction.slack or (reaction.threads and event.kind != "verdict"):
                log.info("deploys: %s %s revision %s", event.kind, event.service, revision)

    async def settle_due(self) -> None:
        for thread in await self.state.due(self.clock()):
            reaction = settle(thread, self.clock())
            if reaction is None:
                continue
            await self.state.apply(reaction, f"settle:{thread.service}:{thread.revision}")
            self._settled(reaction)

    def _settled(self, reaction: Reaction) -> None:
        for thread in reaction.settled:
            self.metrics.outcomes.labels(service=thread.service, outcome=thread.status).inc()
            log.info(
                "deploys: %s revision %s: %s (%s)",
                thread.service,
                thread.revision,
                thread.status,
                thread.detail,
            )
