"""The dead man's switch (``alertmanager.heartbeat``): the pipeline that would page about
itself is down, so the daemon says so itself.

Prometheus' ``Watchdog`` always fires; the rendered Alertmanager configuration sends it to
``POST /alertmanager/heartbeat`` every ``interval`` (bearer token as for
``/alertmanager``). Each heartbeat is recorded in the store (``state.py``). The job
``heartbeat.check`` looks every few seconds: when no heartbeat arrived for longer than
``max_silence``, counted from the later of the last heartbeat and the daemon's start (a
fresh install, or a daemon that was itself down, gets ``max_silence`` first), the outage is
declared once, and Slack (a notice through the outbox) and PagerDuty (Events v2, when
``pagerduty_routing_key_env`` is set) are told. The first heartbeat after it ends the
outage: Slack hears it is back, PagerDuty's incident is resolved (same ``dedup_key``).

On several replicas (docs/ha.md) any replica records a heartbeat in the shared store; the
check runs on every replica, to export the shared status, but only the leader declares
an outage and sends to PagerDuty (each send checked against its term first).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence

import aiohttp
from aiohttp import web
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import CollectorRegistry

from sre.clients.pagerduty import PagerDutyClient
from sre.config import DaemonConfig
from sre.config.alerting import Heartbeat
from sre.features.heartbeat.metrics import HeartbeatMetrics
from sre.features.heartbeat.model import PayloadError, parse_heartbeat
from sre.features.heartbeat.notices import (
    Outage,
    back_notice,
    missing_notice,
    resolve_event,
    span,
    trigger_event,
)
from sre.features.heartbeat.pager import Pager
from sre.features.heartbeat.state import HeartbeatState, Status
from sre.runtime.feature import Feature, FeatureError
from sre.runtime.ha import SOLO, Cluster, Fenced, Term
from sre.runtime.http import BearerToken, read_limited, text
from sre.runtime.jobs import JobSpec
from sre.runtime.notices import OutboxNotifier
from sre.runtime.store import Store, StoreError, StoreUnavailable

log = logging.getLogger(__name__)

# Where the rendered Alertmanager configuration sends Watchdog (sre.render.alertmanager's
# HEARTBEAT_PATH; a test keeps the two equal).
PATH = "/alertmanager/heartbeat"


def check_every(max_silence: float) -> float:
    """How often the silence is measured: a tenth of what is allowed, 0.5 s to 30 s."""
    return min(30.0, max(0.5, max_silence / 10))


def secret(env: Mapping[str, str], name: str | None) -> str | None:
    """The value of the variable ``name`` names; None when unset or empty."""
    value = env.get(name, "") if name else ""
    return value or None


def pagerduty_client(
    cfg: Heartbeat,
    env: Mapping[str, str],
    session: aiohttp.ClientSession,
    *,
    insecure_dev: bool = False,
) -> PagerDutyClient | None:
    """PagerDuty when ``pagerduty_routing_key_env`` is set; its variable unset is a
    :class:`FeatureError` (a page path silently off), a warning with ``--insecure-dev``."""
    name = cfg.pagerduty_routing_key_env
    if name is None:
        return None
    key = secret(env, name)
    if key is None:
        why = (
            f"heartbeat: the PagerDuty routing key variable {name} "
            "(alertmanager.heartbeat.pagerduty_routing_key_env) is unset"
        )
        if not insecure_dev:
            raise FeatureError(f"{why}; set it, or remove the key to tell only Slack")
        log.warning("%s: --insecure-dev, PagerDuty off", why)
        return None
    return PagerDutyClient(cfg.pagerduty_url, key, session)


class HeartbeatFeature(Feature):
    name = "heartbeat"

    def __init__(
        self,
        cfg: Heartbeat,
        daemon: DaemonConfig,
        *,
        pagerduty: PagerDutyClient | None,
        store: Store,
        notices: OutboxNotifier,
        registry: CollectorRegistry,
        clock: Callable[[], float],
        env: Mapping[str, str],
        system: str,
        environment: str,
        watched_since: float | None = None,
        insecure_dev: bool = False,
        cluster: Cluster = SOLO,
    ) -> None:
        token_env = daemon.webhook_token_env
        if not token_env:
            raise FeatureError(
                "heartbeat: alertmanager.heartbeat is set but daemon.webhook_token_env is null; "
                "the heartbeat is authenticated like /alertmanager: set it, or remove "
                "alertmanager.heartbeat"
            )
        token = secret(env, token_env)
        if token is None and not insecure_dev:
            raise FeatureError(
                f"heartbeat: the webhook token variable {token_env} (daemon.webhook_token_env) "
                "is unset; set it, or run with --insecure-dev for local tests"
            )
        self.cfg = cfg
        self.token = BearerToken(token)
        self.max_bytes = daemon.max_webhook_bytes
        self.notices = notices
        self.clock = clock
        self.state = HeartbeatState(store)
        self.metrics = HeartbeatMetrics(registry)
        self.pager = Pager(pagerduty, store, self.metrics, clock) if pagerduty else None
        self.watched_since = clock() if watched_since is None else watched_since
        self.system = system
        self.environment = environment
        self.cluster = cluster
        self.tasks: set[asyncio.Task[int]] = set()

    def routes(self) -> Sequence[web.RouteDef]:
        return [web.post(PATH, self.handle)]

    def jobs(self) -> Sequence[JobSpec]:
        every = IntervalTrigger(seconds=check_every(self.cfg.max_silence.seconds))
        # Every replica: followers refresh the status they export, the leader also acts.
        return [JobSpec("heartbeat.check", self.check, every, run_at_start=True, leader_only=False)]

    async def start(self) -> None:
        status = await self.state.status()
        self._publish(status)
        log.info(
            "heartbeat: Watchdog expected on POST %s every %s; silence allowed %s from %s; "
            "PagerDuty %s",
            PATH,
            self.cfg.interval,
            self.cfg.max_silence,
            "the last heartbeat" if status.last_seen else "now",
            "on" if self.pager else "off",
        )

    async def stop(self, timeout: float) -> None:
        if self.tasks:
            _, late = await asyncio.wait(self.tasks, timeout=timeout)
            for task in late:
                task.cancel()

    def _publish(self, status: Status) -> None:
        if status.last_seen is not None:
            self.metrics.last_seen.set(status.last_seen)
        self.metrics.missing.set(1 if status.missing else 0)

    def _silent_since(self, status: Status) -> float:
        """When the silence began: the last heartbeat; without one, when this daemon began
        waiting (or, for an outage an earlier run declared, max_silence before that)."""
        if status.last_seen is not None:
            return status.last_seen
        if status.missing and status.missing_since is not None:
            return min(self.watched_since, status.missing_since - self.cfg.max_silence.seconds)
        return self.watched_since

    def _outage(self, status: Status) -> Outage:
        return Outage(
            number=status.outages,
            last_seen=status.last_seen,
            silent_since=self._silent_since(status),
            max_silence=self.cfg.max_silence,
            system=self.system,
            environment=self.environment,
        )

    # ------------------------------------------------------------------ the endpoint

    async def handle(self, request: web.Request) -> web.Response:
        if not self.token.allows(request):
            return self.token.refused()
        body = await read_limited(request, self.max_bytes)
        if body is None:
            return text(413, f"body larger than {self.max_bytes} bytes")
        try:
            parse_heartbeat(body)
        except PayloadError as err:
            return text(400, str(err))
        now = self.clock()
        try:
            ended = await self.state.beat(now, lambda before: self._back(before, now))
        except (StoreUnavailable, StoreError) as err:
            log.error("heartbeat: cannot record it in the state store: %s", err)
            return text(503, "state store unavailable, retry later")
        self.metrics.received.inc()
        self.metrics.last_seen.set(now)
        self.metrics.missing.set(0)
        if ended is not None:
            silent = span(now - self._outage(ended).silent_since)
            log.info("heartbeat: Watchdog back after %s (outage %d over)", silent, ended.outages)
            self.notices.wake()
            if self.pager is not None and (term := self.cluster.leading()) is not None:
                task = asyncio.create_task(self._page(term))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            return text(200, "heartbeat recorded; the outage is over")
        return text(200, "heartbeat recorded")

    async def _page(self, term: Term) -> int:
        """Send what is queued now rather than at the next check (leader only)."""
        try:
            return await self.pager.deliver(term) if self.pager is not None else 0
        except Fenced as err:
            log.info("heartbeat: PagerDuty left to the new leader: %s", err)
            return 0

    def _back(self, before: Status, now: float) -> None:
        """In the beat's transaction: queue 'back' (Slack) and the resolve (PagerDuty)."""
        outage = self._outage(before)
        self.notices.add(back_notice(outage, now, paged=self.pager is not None))
        if self.pager is not None:
            self.pager.queue(resolve_event(outage))

    # ------------------------------------------------------------------ the check

    async def check(self) -> None:
        status = await self.state.status()
        term = self.cluster.leading()
        if term is None:  # another replica leads: it declares and pages
            self._publish(status)
            return
        now = self.clock()
        silent_since = max(status.last_seen or 0.0, self.watched_since)
        if not status.missing and now - silent_since > self.cfg.max_silence.seconds:
            declared = await self.state.declare_missing(
                status, now, lambda after: self._missing(after, now)
            )
            if declared is not None:
                status = declared
                log.warning(
                    "heartbeat: no Watchdog from Alertmanager for %s (max_silence %s): the "
                    "alerting pipeline may be down; Slack%s told (outage %d)",
                    span(now - silent_since),
                    self.cfg.max_silence,
                    " and PagerDuty" if self.pager else "",
                    status.outages,
                )
                self.notices.wake()
            else:
                status = await self.state.status()
        self._publish(status)
        if self.pager is not None:
            try:
                await self.pager.deliver(term)
            except Fenced as err:
                log.info("heartbeat: PagerDuty left to the new leader: %s", err)
                return
            await self.pager.prune()

    def _missing(self, after: Status, now: float) -> None:
        """In the declaration's transaction: queue the notice and the PagerDuty trigger."""
        outage = self._outage(after)
        self.notices.add(missing_notice(outage, now, paged=self.pager is not None))
        if self.pager is not None:
            self.pager.queue(trigger_event(outage, now))
