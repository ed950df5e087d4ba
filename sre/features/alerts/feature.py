"""The alerts feature: Alertmanager webhooks in, Slack messages out.

It wires the receiver ``POST /alertmanager`` (store first, answer at once), the outbox
delivery worker (alert groups and other features' notices, to Slack or to the console sink
when no Slack token is set), the interactive ``POST /slack/actions`` and the
``alerts.reconcile`` job.

Several replicas (docs/ha.md): every replica receives; only the leader delivers, with a
delivery (and its pacing) of its own per leader term, whose Slack calls and outbox marks
are fenced by that term (``sre.runtime.ha``).

Switches: ``daemon.webhook_token_env: null`` turns the receiver off (notices are still
delivered). When it names a variable that is unset the daemon refuses to start
(``FeatureError``, exit 2) unless it runs with ``--insecure-dev``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence

from aiohttp import web
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import CollectorRegistry

from sre.clients import ClientError
from sre.clients.alertmanager import AlertmanagerClient
from sre.clients.slack import ConsoleSink, Poster, SlackClient
from sre.config import AlertmanagerConfig, DaemonConfig, SlackConfig
from sre.features.alerts.actions import Actions, ManualRollback
from sre.features.alerts.delivery import Delivery
from sre.features.alerts.metrics import AlertMetrics
from sre.features.alerts.receiver import Receiver
from sre.features.alerts.reconcile import MissingSince
from sre.features.alerts.state import AlertState
from sre.features.alerts.steps import Routing, Steps
from sre.runtime.feature import Feature, FeatureError
from sre.runtime.ha import SOLO, Cluster, Term
from sre.runtime.ha.guards import FencedPoster
from sre.runtime.http import BearerToken
from sre.runtime.jobs import JobSpec
from sre.runtime.notices import OutboxNotifier
from sre.runtime.store import Store

log = logging.getLogger(__name__)


def secret(env: Mapping[str, str], name: str | None) -> str | None:
    """The value of the variable ``name`` names; None when unset or empty."""
    value = env.get(name, "") if name else ""
    return value or None


def slack_poster(slack: SlackConfig | None, env: Mapping[str, str]) -> Poster:
    """Slack when a token is set, else the console sink (every message a log line)."""
    token = secret(env, slack.token_env) if slack else None
    if slack is not None and token is None:
        log.warning("slack: %s is unset, notifications go to the log", slack.token_env)
    if slack is None or token is None:
        return ConsoleSink()
    return SlackClient(token, slack.base_url)


class AlertsFeature(Feature):
    name = "alerts"

    def __init__(
        self,
        daemon: DaemonConfig,
        slack: SlackConfig | None,
        alertmanager: AlertmanagerConfig | None,
        *,
        poster: Poster,
        alertmanager_client: AlertmanagerClient | None,
        rollbacks: ManualRollback | None,
        store: Store,
        notices: OutboxNotifier,
        registry: CollectorRegistry,
        clock: Callable[[], float],
        env: Mapping[str, str],
        insecure_dev: bool = False,
        cluster: Cluster = SOLO,
    ) -> None:
        token_env = daemon.webhook_token_env
        token = secret(env, token_env)
        if token_env and token is None and not insecure_dev:
            raise FeatureError(
                f"alerts: the webhook token variable {token_env} (daemon.webhook_token_env) "
                "is unset; set it, or set daemon.webhook_token_env: null to turn the "
                "Alertmanager receiver off, or run with --insecure-dev for local tests"
            )
        self.reconcile_every = daemon.reconcile_interval.seconds
        self.missing = MissingSince(daemon.reconcile_grace.seconds, clock)
        self.metrics = AlertMetrics(registry)
        self.state = AlertState(store)
        self.metrics.watch_pending(self.state.pending_count)
        self.poster = poster
        self.alertmanager = alertmanager_client
        am_public = (alertmanager.public_url or alertmanager.url) if alertmanager else ""
        routing = Routing(
            channel_for=slack.channel_for if slack else (lambda _labels: "console"),
            alertmanager_url=am_public,
            has_rollback=rollbacks.has_target if rollbacks else (lambda _service: False),
        )
        self.routing, self.store, self.clock, self.cluster = routing, store, clock, cluster
        self.digest_after = slack.digest_after.seconds if slack else 60.0
        self.delivery: Delivery | None = None  # while this replica leads
        self._term: Term | None = None
        self._switching = asyncio.Lock()
        self._switches: set[asyncio.Task[None]] = set()
        self._stopped = False
        self._unwatch: Callable[[], None] = lambda: None
        notices.subscribe(self.wake)
        self.receiver: Receiver | None = None
        if token_env:
            if token is None:
                log.warning("alerts: --insecure-dev: POST /alertmanager accepts any caller")
            self.receiver = Receiver(
                self.state,
                self.metrics,
                token=BearerToken(token),
                max_bytes=daemon.max_webhook_bytes,
                clock=clock,
                on_queued=self.wake,
            )
        else:
            log.info("alerts: daemon.webhook_token_env is null, Alertmanager receiver off")
        signing = secret(env, slack.signing_secret_env) if slack else None
        if slack is not None and signing is None:
            log.warning(
                "slack: %s is unset, POST /slack/actions rejects every request",
                slack.signing_secret_env,
            )
        self.actions = Actions(
            self.state,
            self.metrics,
            secret=signing,
            clock=clock,
            alertmanager=alertmanager_client,
            silence_base_url=am_public,
            rollbacks=rollbacks,
            on_queued=self.wake,
        )

    def routes(self) -> Sequence[web.RouteDef]:
        routes = [web.post("/slack/actions", self.actions.handle)]
        if self.receiver is not None:
            routes.append(web.post("/alertmanager", self.receiver.handle))
        return routes

    def jobs(self) -> Sequence[JobSpec]:
        if self.alertmanager is None:
            return ()
        every = IntervalTrigger(seconds=self.reconcile_every)
        return [JobSpec("alerts.reconcile", self.reconcile, every)]

    async def start(self) -> None:
        await self.poster.open()
        self._unwatch = self.cluster.watch(self._leadership_changed)
        await self._follow_leadership()

    async def stop(self, timeout: float) -> None:
        self._unwatch()
        await self.actions.stop(timeout / 2)
        async with self._switching:
            self._stopped = True  # a leadership change still queued starts nothing now
            if self.delivery is not None:
                await self.delivery.stop(timeout / 2)
                self.delivery = None
        await self.poster.close()

    def wake(self) -> None:
        """Something was queued: the delivery (on the leader) looks now, not at its next poll."""
        if self.delivery is not None:
            self.delivery.wake.set()

    def _leadership_changed(self) -> None:
        task = asyncio.get_running_loop().create_task(self._follow_leadership())
        self._switches.add(task)  # a reference until it is done
        task.add_done_callback(self._switches.discard)

    async def _follow_leadership(self) -> None:
        """A new leader term gets a delivery of its own: nothing the last term knew in
        memory (pending items, pacing) is trusted, and its fences are this term's."""
        async with self._switching:
            term = self.cluster.leading()
            if term is self._term or self._stopped:
                return
            if self.delivery is not None:
                await self.delivery.stop(timeout=2.0)
                self.delivery = None
            self._term = term
            # What an earlier term saw missing is not this term's: the grace starts over.
            self.missing = MissingSince(self.missing.grace, self.clock)
            if term is None:
                return
            state = self.state.fenced(term) if self.cluster.shared else self.state
            poster = (
                FencedPoster(self.poster, term, self.store) if self.cluster.shared else self.poster
            )
            steps = Steps(state, poster, self.routing, self.metrics, self.clock)
            self.delivery = Delivery(
                state, steps, self.metrics, self.clock, digest_after=self.digest_after
            )
            self.delivery.start()
            if self.cluster.shared:
                log.info("alerts: delivering the outbox (leader term %d)", term.number)

    async def reconcile(self) -> None:
        """Resolve the Slack messages of groups Alertmanager no longer has firing."""
        assert self.alertmanager is not None
        try:
            active = await self.alertmanager.alerts()
        except ClientError as err:
            log.warning("reconcile skipped: %s", err)
            return
        fingerprints = {a.get("fingerprint") for a in active}
        queued = 0
        rows = await self.state.firing_groups()
        self.missing.keep_only([row.group_key for row in rows])
        for row in rows:
            firing = {a.fingerprint for a in row.view.firing} if row.view else set()
            gone = self.missing.due(row.group_key, firing - fingerprints)
            if gone:
                await self.state.enqueue("reconcile", row.group_key, fingerprints=gone)
                queued += 1
        if queued:
            log.info("reconcile: %d group(s) resolved in Alertmanager without a webhook", queued)
            self.wake()
        if waiting := self.missing.waiting():
            log.info(
                "reconcile: %d alert(s) missing from Alertmanager, inside the %ss grace",
                waiting,
                f"{self.missing.grace:g}",
            )
        await self.state.prune()
