"""Alert handling (issue 4): Alertmanager webhooks to Slack, durable, threaded, interactive.

``build(ctx)`` wires: the receiver ``POST /alertmanager`` (store first, answer at once), the
outbox delivery worker (alert groups and other features' notices, to Slack or to the
console sink when no Slack token is set), the interactive ``POST /slack/actions`` and the
``alerts.reconcile`` job. See ``/work/readme-parts/alerts.md`` for the operator's view.

Switches: ``daemon.webhook_token_env: null`` turns the receiver off (notices are still
delivered). When it names a variable that is unset the daemon refuses to start
(``FeatureError``, exit 2) unless it runs with ``--insecure-dev``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from aiohttp import web
from apscheduler.triggers.interval import IntervalTrigger

from sre.clients import ClientError
from sre.clients.alertmanager import AlertmanagerClient
from sre.clients.slack import ConsoleSink, SlackClient
from sre.daemon.feature import Feature, FeatureContext, FeatureError, ManualRollback
from sre.jobs.alerts.actions import Actions
from sre.jobs.alerts.delivery import Delivery, Routing
from sre.jobs.alerts.metrics import AlertMetrics
from sre.jobs.alerts.receiver import Receiver
from sre.jobs.alerts.state import AlertState
from sre.jobs.base import JobSpec
from sre.notify.notices import Notice, OutboxNotifier

log = logging.getLogger(__name__)


class _WakingNotifier(OutboxNotifier):
    """The shared notifier, waking the delivery worker when a notice is queued."""

    def __init__(self, ctx: FeatureContext, delivery: Delivery) -> None:
        super().__init__(ctx.store)
        self.delivery = delivery

    def notify(self, notice: Notice) -> bool:
        queued = super().notify(notice)
        if queued:
            self.delivery.wake.set()
        return queued


def _secret(name: str | None) -> str | None:
    value = os.environ.get(name, "") if name else ""
    return value or None


class AlertsFeature(Feature):
    name = "alerts"

    def __init__(self, ctx: FeatureContext) -> None:
        cfg = ctx.config
        insecure = bool((ctx.options or {}).get("insecure_dev"))
        token_env = cfg.daemon.webhook_token_env
        token = _secret(token_env)
        if token_env and token is None and not insecure:
            raise FeatureError(
                f"alerts: the webhook token variable {token_env} (daemon.webhook_token_env) "
                "is unset; set it, or set daemon.webhook_token_env: null to turn the "
                "Alertmanager receiver off, or run with --insecure-dev for local tests"
            )
        self.ctx = ctx
        self.metrics = AlertMetrics(ctx.registry)
        self.state = AlertState(ctx.store)
        self.metrics.watch_pending(ctx.store.outbox_pending)
        slack = cfg.slack
        slack_token = _secret(slack.token_env) if slack else None
        if slack is not None and slack_token is None:
            log.warning("slack: %s is unset, notifications go to the log", slack.token_env)
        self.poster = (
            SlackClient(slack_token, slack.base_url)
            if slack is not None and slack_token is not None
            else ConsoleSink()
        )
        am = cfg.alertmanager
        self.alertmanager = AlertmanagerClient(am.url, ctx.session) if am else None
        am_public = (am.public_url or am.url) if am else ""
        routing = Routing(
            channel_for=slack.channel_for if slack else (lambda _labels: "console"),
            alertmanager_url=am_public,
            rollbacks=self._rollbacks,
        )
        self.delivery = Delivery(self.state, self.poster, routing, self.metrics, ctx.clock)
        if ctx.notifier is None:
            ctx.notifier = _WakingNotifier(ctx, self.delivery)
        self.receiver: Receiver | None = None
        if token_env:
            if token is None:
                log.warning("alerts: --insecure-dev: POST /alertmanager accepts any caller")
            self.receiver = Receiver(
                self.state,
                self.metrics,
                token=token,
                max_bytes=cfg.daemon.max_webhook_bytes,
                clock=ctx.clock,
                on_queued=self.delivery.wake.set,
            )
        else:
            log.info("alerts: daemon.webhook_token_env is null, Alertmanager receiver off")
        secret = _secret(slack.signing_secret_env) if slack else None
        if slack is not None and secret is None:
            log.warning(
                "slack: %s is unset, POST /slack/actions rejects every request",
                slack.signing_secret_env,
            )
        self.actions = Actions(
            self.state,
            self.metrics,
            secret=secret,
            clock=ctx.clock,
            alertmanager=self.alertmanager,
            silence_base_url=am_public,
            rollbacks=self._rollbacks,
            on_queued=self.delivery.wake.set,
        )

    def _rollbacks(self) -> ManualRollback | None:
        # Read late: the rollback feature may be built after this one.
        return self.ctx.rollbacks

    def routes(self) -> Sequence[web.RouteDef]:
        routes = [web.post("/slack/actions", self.actions.handle)]
        if self.receiver is not None:
            routes.append(web.post("/alertmanager", self.receiver.handle))
        return routes

    def jobs(self) -> Sequence[JobSpec]:
        if self.alertmanager is None:
            return ()
        interval = self.ctx.config.daemon.reconcile_interval.seconds
        return [JobSpec("alerts.reconcile", self.reconcile, IntervalTrigger(seconds=interval))]

    async def start(self) -> None:
        await self.poster.open()
        self.delivery.start()

    async def stop(self, timeout: float) -> None:
        await self.actions.stop(timeout / 2)
        await self.delivery.stop(timeout / 2)
        await self.poster.close()

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
        for row in self.state.firing_groups():
            firing = {
                a.get("fingerprint")
                for a in (row.view or {}).get("alerts", [])
                if a.get("status") == "firing"
            }
            gone = sorted(str(f) for f in firing - fingerprints)
            if gone:
                self.state.enqueue("reconcile", row.group_key, fingerprints=gone)
                queued += 1
        if queued:
            log.info("reconcile: %d group(s) resolved in Alertmanager without a webhook", queued)
            self.delivery.wake.set()
        self.state.prune()


def build(ctx: FeatureContext) -> Feature | None:
    return AlertsFeature(ctx)
