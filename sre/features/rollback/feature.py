"""The rollback feature: evaluate every service with a ``rollback`` block, act on a fail.

One job (``rollback.evaluate``, every ``daemon.rollbacks.interval``) evaluates all such
services in one cycle: read each current revision from the service's target
(``targets.py``) while the triggers of all are judged over their ``for`` windows from a
few batched queries (``triggers.py``), count and log each verdict, then let the safety
policy (``sre.checks.rollback.decide``) decide. A rollback runs in a background task (so
one slow ``rollout status`` never delays the other services) under the service's lock: one
at a time per service. Manual requests (the Slack button) take the same path with a
``manual`` trigger. Every decision that matters is an audit record (``audit.py``) and a
notice (``notices.py``). On several replicas only the leader evaluates, and its claim is
fenced by its term (``sre.runtime.ha``).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from aiohttp import web
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import CollectorRegistry

from sre.checks.rollback import SWITCHED_OFF, Decision, Revision, TriggerVerdict, decide
from sre.clients import ClientError
from sre.config import RollbackEngine, Service
from sre.features.rollback import audit, notices
from sre.features.rollback.events import Publisher
from sre.features.rollback.metrics import RollbackMetrics
from sre.features.rollback.state import PENDING, RollbackState, ServiceState
from sre.features.rollback.streaks import NoVerdictStreaks
from sre.features.rollback.targets import Target
from sre.features.rollback.triggers import Cycle, Triggers
from sre.runtime.events import Discard, Events
from sre.runtime.feature import Feature
from sre.runtime.ha import SOLO, Cluster, Fenced, Term
from sre.runtime.http import BearerToken
from sre.runtime.jobs import JobSpec
from sre.runtime.notices import Notifier
from sre.runtime.redact import Redactor
from sre.runtime.store import Store

log = logging.getLogger(__name__)


class RollbackFeature(Feature):
    name = "rollback"

    def __init__(
        self,
        services: Sequence[Service],
        engine: RollbackEngine,
        *,
        targets: Mapping[str, Target],
        triggers: Triggers,
        store: Store,
        notices: Notifier,
        registry: CollectorRegistry,
        clock: Callable[[], float],
        api_token: BearerToken,
        redactor: Redactor,
        events: Events | None = None,
        cluster: Cluster = SOLO,
    ) -> None:
        self.services = {s.name: s for s in services if s.rollback is not None}
        self.api_token, self.redactor, self.engine = api_token, redactor, engine
        self.targets = dict(targets)
        self.triggers = triggers
        self.store = store
        self.notices = notices
        self.clock, self.cluster = clock, cluster
        self.publish = Publisher(events or Discard(), store, clock)  # for the deploys feature
        self.state = RollbackState(store)
        self.metrics = RollbackMetrics(registry, self.services)
        self.locks = {name: asyncio.Lock() for name in self.services}
        self.tasks: set[asyncio.Task[str]] = set()
        self.streaks = NoVerdictStreaks(self.metrics, notices, engine.no_verdict_warn_after)
        self.blocked: dict[str, tuple[str | None, str]] = {}  # last audited blocked decision
        self.revision_errors: dict[str, str] = {}
        self.held: dict[str, tuple[Term | None, ServiceState]] = {}  # claimed, not yet run
        self.term: Term | None = None  # the leader term of the last evaluation

    # ------------------------------------------------------------------ seam

    def jobs(self) -> Sequence[JobSpec]:
        every = IntervalTrigger(seconds=self.engine.interval.seconds)
        return [JobSpec("rollback.evaluate", self.evaluate_all, every)]

    def routes(self) -> Sequence[web.RouteDef]:
        return audit.routes(self.store, self.api_token)

    async def start(self) -> None:
        dry = "".join(
            f", {n} dry_run" for n, s in self.services.items() if s.rollback and s.rollback.dry_run
        )
        log.info(
            "rollback: %d service(s) evaluated every %s, global switch %s%s",
            len(self.services),
            self.engine.interval,
            "on" if self.engine.enabled else "OFF (decisions recorded, nothing runs)",
            dry,
        )

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
        term = self.cluster.leading()  # what this run decides, it may act on in this term only
        if term is None:
            return
        if term is not self.term:  # leading (again): nothing remembered from before counts
            self.term = term
            self.streaks.reset()
            self.blocked.clear()
        await self.evaluate(*self.services.values(), term=term)

    async def evaluate(self, *services: Service, term: Term | None = None) -> None:
        """One cycle: the revisions and the trigger queries of every service at once (a
        bounded number of queries, ``Triggers.judge``), then each service's decision."""
        busy = {s.name for s in services if self.locks[s.name].locked()}
        if busy:
            log.debug("a rollback is running, evaluation skipped: %s", ", ".join(sorted(busy)))
        if not (due := [s for s in services if s.name not in busy]):
            return
        now = self.clock()
        revisions, cycle = await asyncio.gather(
            asyncio.gather(*(self.revision(s, now) for s in due)), self.triggers.judge(due, now)
        )
        self.metrics.count_queries(cycle.queries, cycle.failed)
        await asyncio.gather(
            *(
                self.conclude(s, rev, cycle, now, term)
                for s, rev in zip(due, revisions, strict=True)
            )
        )

    async def conclude(
        self, svc: Service, revision: Revision | None, cycle: Cycle, now: float, term: Term | None
    ) -> None:
        rb = svc.rollback
        assert rb is not None
        verdicts = cycle.verdicts[svc.name] + await self.triggers.health(svc, revision)
        await self.streaks.count(svc.name, verdicts, now)
        await self.publish.verdict(svc.name, revision, verdicts)
        if not any(v.outcome == "fail" for v in verdicts):
            self.blocked.pop(svc.name, None)
            if any(v.outcome == "pass" for v in verdicts):
                await self.recovered(svc)
            return
        st = await self.state.load(svc.name)
        decision = decide(
            verdicts,
            revision=revision,
            state=await self.state.policy(st, revision.revision if revision else None),
            now=now,
            after_deploy_seconds=rb.after_deploy.seconds if rb.after_deploy else None,
            cooldown_seconds=rb.cooldown.seconds,
            enabled=self.engine.enabled,
            dry_run=rb.dry_run,
        )
        window = cycle.windows[svc.name]
        data = self._record(svc, decision, verdicts, revision, window=window, by="auto")
        await self.act(svc, decision, data, revision, manual=False, term=term)

    def _record(
        self,
        svc: Service,
        decision: Decision,
        verdicts: Sequence[TriggerVerdict],
        revision: Revision | None,
        *,
        window: dict[str, float] | None,
        by: str,
    ) -> dict[str, Any]:
        return audit.decision_record(
            svc,
            decision,
            verdicts,
            revision,
            target=self.redactor.data(self.targets[svc.name].describe()),
            window=window,
            requested_by=by,
            enabled=self.engine.enabled,
        )

    # ------------------------------------------------------------------ revisions

    async def revision(self, svc: Service, now: float) -> Revision | None:
        target = self.targets[svc.name]
        st = await self.state.load(svc.name)
        if not target.has_revisions:
            return await self.state.episode(st, now)
        try:
            rev = await target.revision()
        except ClientError as err:
            # WARNING once per distinct error, DEBUG while it repeats.
            repeated = self.revision_errors.get(svc.name) == str(err)
            self.revision_errors[svc.name] = str(err)
            level = logging.DEBUG if repeated else logging.WARNING
            log.log(level, "%s: cannot read the current revision: %s", svc.name, err)
            return None
        self.revision_errors.pop(svc.name, None)
        new = rev.revision != st.seen_revision and st.frozen_revision != PENDING  # a deploy
        if rev.revision != st.seen_revision:
            log.info("%s: revision %s (previous %s)", svc.name, rev.revision, rev.previous)
            st = replace(st, seen_revision=rev.revision, seen_at=now)
            await self.state.save(st)
        if math.isnan(rev.deployed_at):
            rev = replace(rev, deployed_at=st.seen_at if st.seen_at is not None else now)
        if new:
            await self.publish.deploy(svc.name, rev, self.redactor.data(target.describe()))
        if st.frozen_revision == PENDING:
            await self.state.save(replace(st, frozen_revision=rev.revision))
        return rev

    async def recovered(self, svc: Service) -> None:
        if self.targets[svc.name].has_revisions:
            return
        st = await self.state.load(svc.name)
        if st.frozen_revision == f"episode-{st.episode}":
            log.info("%s: passing again after a rollback, episode %d", svc.name, st.episode + 1)
            now = self.clock()
            await self.state.save(replace(st, episode=st.episode + 1, episode_started_at=now))

    # ------------------------------------------------------------------ decisions

    async def act(
        self,
        svc: Service,
        decision: Decision,
        data: dict[str, Any],
        revision: Revision | None,
        *,
        manual: bool,
        term: Term | None = None,
    ) -> str:
        name = svc.name
        rev = revision.revision if revision else None
        before: ServiceState | None = None  # as it was before the claim, to withdraw it
        if decision.action == "rollback" and rev is not None:
            try:
                frozen = await self.pending(svc)
                before = await self.state.claim_rollback(name, rev, self.clock(), frozen, term)
            except Fenced:
                return f"{name} not rolled back: this replica no longer acts (another leads)"
            if before is None:
                why = f"already rolled back from {rev}"
                decision = replace(decision, action="none", reason=why)
                data = {**data, "action": "none", "reason": f"{why} (idempotency key)"}
        if decision.reason == SWITCHED_OFF and rev is not None:
            return await self.switched_off(svc, data, rev, manual=manual)
        if decision.action == "none" or rev is None:
            if manual or self.blocked.get(name) != (rev, decision.reason):
                self.blocked[name] = (rev, decision.reason)
                await self._audit(name, data)
                log.info("%s: not rolled back (%s): %s", name, decision.trigger, data["reason"])
            return f"{name} not rolled back: {data['reason']}"
        prev = revision.previous if revision else None
        if decision.action == "dry_run":
            if not manual and not await self.state.claim(name, rev, dry_run=True):
                return f"{name}: dry run for revision {rev} already recorded"
            audit_id = await self._audit(name, data)
            key = f"rollback-dry-run:{name}:{rev}" + (f":{audit_id}" if manual else "")
            await self.notices.notify(notices.announce(data, key))
            trigger = decision.trigger
            self.metrics.rollbacks.labels(service=name, trigger=trigger, result="dry_run").inc()
            log.warning(
                "%s: DRY RUN, would roll back %s -> %s: %s", name, rev, prev, data["reason"]
            )
            return f"dry run: would roll back {name} from revision {rev} to {prev}; nothing ran"
        await self._audit(name, data)
        key = f"rollback:{name}:{rev}"
        await self.notices.notify(notices.announce(data, key))
        log.warning("%s: rolling back %s -> %s: %s", name, rev, prev, data["reason"])
        if before is not None:
            self.held[name] = (term, before)
        run = self.execute(svc, data, key)
        if manual:
            return await run
        task = asyncio.get_running_loop().create_task(run)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return f"rolling back {name} from revision {rev} to {prev}"

    async def _audit(self, service: str, data: dict[str, Any]) -> int:
        return await self.store.run(self.publish.audit, service, data)  # record + its event

    async def pending(self, svc: Service) -> str:
        """The freeze stored with the claim, before anything runs: the episode for a
        target without revisions, else ``PENDING`` (the first revision read afterwards, by
        this daemon or a restarted one)."""
        if not self.targets[svc.name].has_revisions:
            return f"episode-{(await self.state.load(svc.name)).episode}"
        return PENDING

    async def switched_off(
        self, svc: Service, data: dict[str, Any], rev: str, *, manual: bool
    ) -> str:
        """The global switch blocked a rollback: recorded and announced (once per
        revision, as a dry run), nothing runs."""
        name = svc.name
        answer = f"{name} not rolled back: {data['reason']}"
        if not manual and not await self.state.claim_switched_off(name, rev):
            return answer
        self.blocked[name] = (rev, data["reason"])
        audit_id = await self._audit(name, data)
        key = f"rollback-switched-off:{name}:{rev}" + (f":{audit_id}" if manual else "")
        await self.notices.notify(notices.announce(data, key))
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
        name, target = svc.name, self.targets[svc.name]
        async with self.locks[name]:
            claim = self.held.pop(name, None)
            if claim and not await self.state.still_ours(*claim, str(data["revision"])):
                return f"{name} not rolled back: this replica's term ended, claim withdrawn"
            started = self.clock()
            results = await target.roll_back(str(data.get("previous") or ""), rb.timeout.seconds)
            ok = bool(results) and all(r.ok for r in results)
            # Freeze on what we rolled back to (read back now, or at the next evaluation).
            if target.has_revisions:
                back = await self.revision(svc, self.clock())
                after = back.revision if back else None
            else:
                after = f"episode-{(await self.state.load(name)).episode}"
            st = await self.state.load(name)
            frozen = after or PENDING
            await self.state.save(replace(st, last_rollback_at=started, frozen_revision=frozen))
            outcome = "success" if ok else "failure"
            trigger = data["trigger"]
            self.metrics.rollbacks.labels(service=name, trigger=trigger, result=outcome).inc()
            self.metrics.last.labels(service=name).set(self.clock())
        done = {
            **data,
            "phase": "result",
            "result": outcome,
            # What a command printed or ran with may hold a secret: never stored, logged,
            # posted or served as it was.
            "commands": [self.redactor.data(r.to_dict()) for r in results],
            "revision_after": after,
            "started_at": started,
        }
        await self._audit(name, done)
        await self.notices.notify(notices.result(done, f"{key}:result", key))
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
        now = self.clock()
        revision = await self.revision(svc, now)
        why = f"requested by {requested_by}: {reason}" if reason else f"requested by {requested_by}"
        verdicts = [TriggerVerdict("manual", "fail", why)]
        st = await self.state.load(service)
        decision = decide(
            verdicts,
            revision=revision,
            state=await self.state.policy(st, revision.revision if revision else None),
            now=now,
            after_deploy_seconds=None,  # a person decided: no deploy window, no cooldown
            cooldown_seconds=0.0,
            enabled=self.engine.enabled,
            dry_run=svc.rollback.dry_run,
        )
        data = self._record(svc, decision, verdicts, revision, window=None, by=requested_by)
        term = self.cluster.member()  # whichever replica Slack sent the click to
        return await self.act(svc, decision, data, revision, manual=True, term=term)
