"""The rollback feature: evaluate every service with a ``rollback`` block, act on a fail.

One job (``rollback.evaluate``, every ``daemon.rollbacks.interval``) evaluates all such
services concurrently: read the current revision, run the trigger queries over the ``for``
window, judge them (``sre.checks.rollback``), count and log the verdict, then let the
safety policy decide. A rollback runs in a background task (so one slow ``rollout status``
never delays the other services) under the service's lock: one at a time per service.
Manual requests (the Slack button) take the same path with a ``manual`` trigger.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import Counter, Gauge

from sre.checks.rollback import (
    SWITCHED_OFF,
    Decision,
    Revision,
    TriggerVerdict,
    decide,
    no_verdict,
    probes_verdict,
    window_verdict,
)
from sre.clients import ClientError
from sre.clients.kube import CommandResult, Kube
from sre.clients.prometheus import PrometheusClient
from sre.config import Service
from sre.daemon.feature import Feature, FeatureContext
from sre.daemon.metrics import catalog_metric
from sre.jobs.base import JobSpec
from sre.jobs.rollback import report
from sre.jobs.rollback.queries import trigger_queries
from sre.jobs.rollback.state import PENDING, RollbackState, ServiceState

log = logging.getLogger(__name__)

TRIGGERS = ("error_rate", "latency", "health", "manual")
RESULTS = ("success", "failure", "dry_run")
CLIENT_REASONS = {"unreachable": "prometheus_unreachable"}  # everything else: query_error


class RollbackFeature(Feature):
    name = "rollback"

    def __init__(
        self,
        ctx: FeatureContext,
        kube: Kube | None = None,
        prometheus: PrometheusClient | None = None,
    ) -> None:
        self.ctx = ctx
        self.cfg = ctx.config
        self.engine = ctx.config.daemon.rollbacks
        self.services = {s.name: s for s in ctx.config.services if s.rollback is not None}
        self.kube = kube or Kube()
        self.prom = prometheus or PrometheusClient(ctx.config.prometheus.url, ctx.session)
        self.state = RollbackState(ctx.store)
        self.locks = {name: asyncio.Lock() for name in self.services}
        self.tasks: set[asyncio.Task[str]] = set()
        self.streaks: dict[str, list[str]] = {}  # no-verdict reasons in a row
        self.streak_started: dict[str, float] = {}
        self.blocked: dict[str, tuple[str | None, str]] = {}  # last audited blocked decision
        self.revision_errors: dict[str, str] = {}
        self.evaluations: Counter = catalog_metric(ctx.registry, "sre_rollback_evaluations_total")
        self.rollbacks: Counter = catalog_metric(ctx.registry, "sre_rollbacks_total")
        self.last: Gauge = catalog_metric(ctx.registry, "sre_rollback_last_timestamp_seconds")
        for name in self.services:  # at 0 from the start, so increase() sees the first one
            for trigger in TRIGGERS:
                for result in RESULTS:
                    self.rollbacks.labels(service=name, trigger=trigger, result=result)

    # ------------------------------------------------------------------ seam

    def jobs(self) -> Sequence[JobSpec]:
        every = IntervalTrigger(seconds=self.engine.interval.seconds)
        return [JobSpec("rollback.evaluate", self.evaluate_all, every)]

    def routes(self) -> Sequence[Any]:
        return report.routes(self.ctx.store)

    async def stop(self, timeout: float) -> None:
        pending = {t for t in self.tasks if not t.done()}
        if pending:
            log.info("waiting up to %.0fs for %d running rollback(s)", timeout, len(pending))
            _, still = await asyncio.wait(pending, timeout=timeout)
            for task in still:
                task.cancel()

    def has_target(self, service: str) -> bool:
        return service in self.services

    # ------------------------------------------------------------------ evaluation

    async def evaluate_all(self) -> None:
        await asyncio.gather(*(self.evaluate(s) for s in self.services.values()))

    async def evaluate(self, svc: Service) -> None:
        assert svc.rollback is not None
        if self.locks[svc.name].locked():
            log.debug("%s: a rollback is running, evaluation skipped", svc.name)
            return
        now = self.ctx.clock()
        revision = await self.revision(svc, now)
        verdicts, window = await self.verdicts(svc, revision, now)
        self.count(svc.name, verdicts, now)
        if not any(v.outcome == "fail" for v in verdicts):
            self.blocked.pop(svc.name, None)
            if any(v.outcome == "pass" for v in verdicts):
                self.recovered(svc)
            return
        st = self.state.load(svc.name)
        rb = svc.rollback
        decision = decide(
            verdicts,
            revision=revision,
            state=self.state.policy(st, revision.revision if revision else None),
            now=now,
            after_deploy_seconds=rb.after_deploy.seconds if rb.after_deploy else None,
            cooldown_seconds=rb.cooldown.seconds,
            enabled=self.engine.enabled,
            dry_run=rb.dry_run,
        )
        data = report.decision_record(
            svc,
            decision,
            verdicts,
            revision,
            window=window,
            requested_by="auto",
            enabled=self.engine.enabled,
        )
        await self.act(svc, decision, data, revision, manual=False)

    async def _range(self, query: str, start: float, end: float) -> list[tuple[float, float]]:
        step = self.engine.step.seconds
        limit = max(5.0, self.engine.interval.seconds)
        try:
            series = await asyncio.wait_for(self.prom.query_range(query, start, end, step), limit)
        except TimeoutError:
            raise ClientError(
                "unreachable", f"no answer within {limit:g}s", retryable=True
            ) from None
        return list(series[0].points) if series else []

    async def verdicts(
        self, svc: Service, revision: Revision | None, now: float
    ) -> tuple[list[TriggerVerdict], dict[str, float]]:
        rb = svc.rollback
        assert rb is not None
        q = trigger_queries(self.cfg, svc)
        step, rate_window = self.engine.step.seconds, self.engine.rate_window.seconds
        # Each sample is a rate() over rate_window, which breaches as soon as its window
        # holds a little of a burst: samples must span for + rate_window to prove the
        # errors lasted the whole `for` (see window_verdict). Whole steps, so that
        # Prometheus' step-aligned samples land on both ends.
        span = math.ceil((rb.for_.seconds + rate_window) / step - 1e-9) * step
        start, end = now - span, now
        window = {"start": start, "end": end, "step": step, "rate_window": rate_window}
        checks = [
            ("error_rate", q.error_ratio, rb.error_rate_above),
            ("latency", q.latency_p95, rb.latency_p95_above_seconds),
        ]
        wanted = [(t, query, th) for t, query, th in checks if query and th is not None]
        out: list[TriggerVerdict] = []
        traffic: list[tuple[float, float]] | None = None
        for trigger, query, threshold in wanted:
            assert query is not None and threshold is not None
            try:
                if traffic is None:
                    traffic = await self._range(q.traffic, start, end)
                samples = await self._range(query, start, end)
            except ClientError as err:
                reason = CLIENT_REASONS.get(err.reason, "query_error")
                log.debug("%s %s: %s", svc.name, trigger, err)
                out.append(no_verdict(trigger, reason, query))
                continue
            out.append(
                window_verdict(
                    trigger,
                    samples,
                    threshold=threshold,
                    window_start=now - rb.for_.seconds,
                    window_end=end,
                    step=step,
                    rate_window=rate_window,
                    query=query,
                    traffic=traffic,
                    min_traffic=rb.min_request_rate,
                )
            )
        probes = self.ctx.probes.for_service(svc.name) if self.ctx.probes else []
        if rb.health_failures is not None and probes:
            streaks = [(p.up, p.consecutive_failures, p.since) for p in probes]
            deployed = revision.deployed_at if revision else None
            out.append(probes_verdict(streaks, rb.health_failures, deployed))
        return out, window

    def count(self, service: str, verdicts: Sequence[TriggerVerdict], now: float) -> None:
        failed = [v for v in verdicts if v.outcome == "fail"]
        unclear = [v for v in verdicts if v.outcome == "no_verdict"]
        if failed:
            verdict, reason = "fail", failed[0].trigger
        elif unclear:
            verdict, reason = "no_verdict", unclear[0].reason
        else:
            verdict, reason = "pass", "ok"
        self.evaluations.labels(service=service, verdict=verdict, reason=reason).inc()
        if verdict != "no_verdict":
            self.streaks.pop(service, None)
            return
        streak = self.streaks.setdefault(service, [])
        level = logging.INFO if not streak or streak[-1] != reason else logging.DEBUG
        if not streak:
            self.streak_started[service] = now
        streak.append(reason)
        what = ", ".join(f"{v.trigger}: {v.reason}" for v in unclear)
        log.log(level, "%s: no verdict (%s), %d in a row", service, what, len(streak))
        if len(streak) == self.engine.no_verdict_warn_after:
            key = f"rollback-no-verdict:{service}:{self.streak_started[service]:.0f}"
            self.ctx.notices.notify(report.no_verdict_warning(service, len(streak), streak, key))
            log.warning("%s: %d evaluations in a row without a verdict", service, len(streak))

    # ------------------------------------------------------------------ revisions

    async def revision(self, svc: Service, now: float) -> Revision | None:
        assert svc.rollback is not None
        target = svc.rollback.target
        st = self.state.load(svc.name)
        try:
            if target.kind == "deployment":
                assert target.name is not None
                rev = await self.kube.deployment_revision(target.name, svc.namespace)
            elif target.kind == "helm":
                assert target.release is not None
                rev = await self.kube.helm_revision(target.release, svc.namespace)
            elif target.revision_argv:
                rev = await self.kube.command_revision(target.revision_argv)
            else:
                return self.episode(st, now)
        except ClientError as err:
            # WARNING once per distinct error, DEBUG while it repeats.
            level = (
                logging.DEBUG if self.revision_errors.get(svc.name) == str(err) else logging.WARNING
            )
            self.revision_errors[svc.name] = str(err)
            log.log(level, "%s: cannot read the current revision: %s", svc.name, err)
            return None
        self.revision_errors.pop(svc.name, None)
        if rev.revision != st.seen_revision:
            log.info("%s: revision %s (previous %s)", svc.name, rev.revision, rev.previous)
            st = replace(st, seen_revision=rev.revision, seen_at=now)
            self.state.save(st)
        if math.isnan(rev.deployed_at):
            rev = replace(rev, deployed_at=st.seen_at if st.seen_at is not None else now)
        if st.frozen_revision == PENDING:
            self.state.save(replace(st, frozen_revision=rev.revision))
        return rev

    def episode(self, st: ServiceState, now: float) -> Revision:
        """A command target without ``revision_argv``: the "revision" is an episode that
        ends when the service, frozen after a rollback, is seen passing again."""
        if st.episode_started_at is None:
            st = replace(st, episode_started_at=now)
            self.state.save(st)
        started = st.episode_started_at if st.episode_started_at is not None else now
        return Revision(f"episode-{st.episode}", deployed_at=started, previous="previous")

    def recovered(self, svc: Service) -> None:
        assert svc.rollback is not None
        target = svc.rollback.target
        if target.kind != "command" or target.revision_argv:
            return
        st = self.state.load(svc.name)
        if st.frozen_revision == f"episode-{st.episode}":
            log.info("%s: passing again after a rollback, episode %d", svc.name, st.episode + 1)
            now = self.ctx.clock()
            self.state.save(replace(st, episode=st.episode + 1, episode_started_at=now))

    # ------------------------------------------------------------------ decisions

    async def act(
        self,
        svc: Service,
        decision: Decision,
        data: dict[str, Any],
        revision: Revision | None,
        *,
        manual: bool,
    ) -> str:
        name = svc.name
        rev = revision.revision if revision else None
        if (
            decision.action == "rollback"
            and rev is not None
            and not self.state.claim_rollback(name, rev, self.ctx.clock(), self.pending(svc))
        ):
            decision = replace(decision, action="none", reason=f"already rolled back from {rev}")
            data = {**data, "action": "none", "reason": f"{decision.reason} (idempotency key)"}
        if decision.reason == SWITCHED_OFF and rev is not None:
            return self.switched_off(svc, data, rev, manual=manual)
        if decision.action == "none" or rev is None:
            if manual or self.blocked.get(name) != (rev, decision.reason):
                self.blocked[name] = (rev, decision.reason)
                self.ctx.store.audit_add(report.KIND, name, data)
                log.info("%s: not rolled back (%s): %s", name, decision.trigger, data["reason"])
            return f"{name} not rolled back: {data['reason']}"
        prev = revision.previous if revision else None
        if decision.action == "dry_run":
            if not manual and not self.state.claim(name, rev, dry_run=True):
                return f"{name}: dry run for revision {rev} already recorded"
            audit_id = self.ctx.store.audit_add(report.KIND, name, data)
            key = f"rollback-dry-run:{name}:{rev}" + (f":{audit_id}" if manual else "")
            self.ctx.notices.notify(report.announce(data, key))
            self.rollbacks.labels(service=name, trigger=decision.trigger, result="dry_run").inc()
            log.warning(
                "%s: DRY RUN, would roll back %s -> %s: %s", name, rev, prev, data["reason"]
            )
            return f"dry run: would roll back {name} from revision {rev} to {prev}; nothing ran"
        self.ctx.store.audit_add(report.KIND, name, data)
        key = f"rollback:{name}:{rev}"
        self.ctx.notices.notify(report.announce(data, key))
        log.warning("%s: rolling back %s -> %s: %s", name, rev, prev, data["reason"])
        run = self.execute(svc, data, key)
        if manual:
            return await run
        task = asyncio.get_running_loop().create_task(run)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return f"rolling back {name} from revision {rev} to {prev}"

    def pending(self, svc: Service) -> str:
        """The freeze stored with the claim, before anything runs: the episode for a
        command target without revisions, else ``PENDING`` (the first revision read
        afterwards, by this daemon or a restarted one)."""
        assert svc.rollback is not None
        target = svc.rollback.target
        if target.kind == "command" and not target.revision_argv:
            return f"episode-{self.state.load(svc.name).episode}"
        return PENDING

    def switched_off(self, svc: Service, data: dict[str, Any], rev: str, *, manual: bool) -> str:
        """The global switch blocked a rollback: recorded and announced (once per
        revision, as a dry run), nothing runs."""
        name = svc.name
        answer = f"{name} not rolled back: {data['reason']}"
        if not manual and not self.state.claim_switched_off(name, rev):
            return answer
        self.blocked[name] = (rev, data["reason"])
        audit_id = self.ctx.store.audit_add(report.KIND, name, data)
        key = f"rollback-switched-off:{name}:{rev}" + (f":{audit_id}" if manual else "")
        self.ctx.notices.notify(report.announce(data, key))
        log.warning(
            "%s: rollbacks switched off globally, would roll back %s -> %s (trigger %s)",
            name,
            rev,
            data["previous"],
            data["trigger"],
        )
        return answer

    async def execute(self, svc: Service, data: dict[str, Any], key: str) -> str:
        rb = svc.rollback
        assert rb is not None
        name, target, timeout = svc.name, rb.target, rb.timeout.seconds
        async with self.locks[name]:
            started = self.ctx.clock()
            results: list[CommandResult]
            if target.kind == "deployment":
                assert target.name is not None
                results = await self.kube.undo_deployment(target.name, svc.namespace, timeout)
            elif target.kind == "helm":
                assert target.release is not None
                results = await self.kube.rollback_helm(target.release, svc.namespace, timeout)
            else:
                results = await self.kube.run_command(target.argv or (), timeout)
            ok = bool(results) and all(r.ok for r in results)
            # Freeze on what we rolled back to (read back now, or at the next evaluation).
            st = self.state.load(name)
            if target.kind == "command" and not target.revision_argv:
                after: str | None = f"episode-{st.episode}"
            else:
                back = await self.revision(svc, self.ctx.clock())
                after = back.revision if back else None
            st = self.state.load(name)
            self.state.save(replace(st, last_rollback_at=started, frozen_revision=after or PENDING))
            outcome = "success" if ok else "failure"
            self.rollbacks.labels(service=name, trigger=data["trigger"], result=outcome).inc()
            self.last.labels(service=name).set(self.ctx.clock())
        done = {
            **data,
            "phase": "result",
            "result": outcome,
            "commands": [r.to_dict() for r in results],
            "revision_after": after,
            "started_at": started,
        }
        self.ctx.store.audit_add(report.KIND, name, done)
        self.ctx.notices.notify(report.result(done, f"{key}:result", key))
        codes = ", ".join(f"{r.argv[0]} exit {r.exit_code}" for r in results)
        (log.info if ok else log.error)("%s: rollback %s (%s)", name, outcome, codes)
        return f"rolled back {name} from revision {data['revision']}: {outcome} ({codes})"

    # ------------------------------------------------------------------ manual

    async def request(self, service: str, *, requested_by: str, reason: str) -> str:
        svc = self.services.get(service)
        if svc is None or svc.rollback is None:
            return f"{service} has no rollback target"
        if self.locks[service].locked():
            return f"a rollback of {service} is already running"
        now = self.ctx.clock()
        revision = await self.revision(svc, now)
        why = f"requested by {requested_by}: {reason}" if reason else f"requested by {requested_by}"
        verdicts = [TriggerVerdict("manual", "fail", why)]
        decision = decide(
            verdicts,
            revision=revision,
            state=self.state.policy(
                self.state.load(service), revision.revision if revision else None
            ),
            now=now,
            after_deploy_seconds=None,  # a person decided: no deploy window, no cooldown
            cooldown_seconds=0.0,
            enabled=self.engine.enabled,
            dry_run=svc.rollback.dry_run,
        )
        data = report.decision_record(
            svc,
            decision,
            verdicts,
            revision,
            window=None,
            requested_by=requested_by,
            enabled=self.engine.enabled,
        )
        return await self.act(svc, decision, data, revision, manual=True)
