"""The triggers of every service over its ``for`` window: error rate and p95 latency from
Prometheus range queries (``queries.py``), health from the probe feature's records.

One evaluation cycle (:meth:`Triggers.judge`) asks Prometheus a bounded number of queries
whatever the number of services: one per trigger kind and window (``queries.batches``), all
at once, each grouped ``by (service)``. Every service is then judged from its own series,
cut to its own window, exactly as a query of its own would have answered.
:meth:`Triggers.verdicts` is the same for one service.

Each trigger gives a three-state verdict (``sre.checks.rollback``); a query that cannot be
answered (Prometheus down, a query error, a time-out, a partial answer) is a no-verdict for
every service it covers, never a fail. A service missing from an answer has no data.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sre.checks.probe import ProbeState
from sre.checks.rollback import (
    Revision,
    TriggerVerdict,
    no_verdict,
    probes_verdict,
    window_verdict,
)
from sre.clients import ClientError
from sre.clients.prometheus import PrometheusClient
from sre.config import Config, Service
from sre.features.rollback.queries import Batch, batches, span, trigger_queries

log = logging.getLogger(__name__)

CLIENT_REASONS = {"unreachable": "prometheus_unreachable"}  # everything else: query_error
Points = Sequence[tuple[float, float]]


class ProbeStatus(Protocol):
    """What the triggers read from the probe feature (from the shared store when several
    replicas probe: whichever probed a target)."""

    async def for_service(self, service: str) -> list[ProbeState]: ...


@dataclass(frozen=True)
class Answer:
    """One range query's series by ``service``, or the no-verdict reason it failed with."""

    series: Mapping[str, Points] = field(default_factory=dict)
    failed: str | None = None


Answers = tuple[Answer, Answer | None, Answer | None]  # traffic, error ratio, latency


@dataclass
class Cycle:
    """What one evaluation cycle saw: the Prometheus verdicts and window of each service,
    and how many queries it took (``failed`` of them without an answer)."""

    verdicts: dict[str, list[TriggerVerdict]] = field(default_factory=dict)
    windows: dict[str, dict[str, float]] = field(default_factory=dict)
    queries: int = 0
    failed: int = 0


class Triggers:
    def __init__(self, cfg: Config, prometheus: PrometheusClient, probes: ProbeStatus) -> None:
        self.cfg = cfg
        self.engine = cfg.daemon.rollbacks
        self.prom = prometheus
        self.probes = probes
        self.last_error: dict[str, str] = {}  # query kind -> the last error logged

    async def _range(self, kind: str, query: str, start: float, end: float) -> Answer:
        step = self.engine.step.seconds
        limit = max(5.0, self.engine.interval.seconds)
        try:
            try:
                series = await asyncio.wait_for(
                    self.prom.query_range(query, start, end, step), limit
                )
            except TimeoutError:
                raise ClientError(
                    "unreachable", f"no answer within {limit:g}s", retryable=True
                ) from None
        except ClientError as err:
            return self._failed(kind, err)
        self.last_error.pop(kind, None)
        out: dict[str, Points] = {}
        for s in series:
            name = s.labels.get("service")
            if name is not None:
                out[name] = s.points
        return Answer(out)

    def _failed(self, kind: str, err: ClientError) -> Answer:
        # WARNING once per distinct error, DEBUG while it repeats.
        level = logging.DEBUG if self.last_error.get(kind) == str(err) else logging.WARNING
        self.last_error[kind] = str(err)
        log.log(level, "rollback: the %s query failed (no verdict from it): %s", kind, err)
        return Answer(failed=CLIENT_REASONS.get(err.reason, "query_error"))

    async def judge(self, services: Iterable[Service], now: float) -> Cycle:
        """Ask every query of the cycle at once, then judge each service from its series."""
        chosen = [s for s in services if s.rollback is not None]
        plan = batches(self.cfg, chosen)
        answered = await asyncio.gather(*(self._ask(batch, now) for batch in plan))
        cycle = Cycle()
        read: dict[str, Answers] = {}
        for batch, answers in zip(plan, answered, strict=True):
            asked = [a for a in answers if a is not None]
            cycle.queries += len(asked)
            cycle.failed += sum(1 for a in asked if a.failed)
            read.update(dict.fromkeys(batch.services, answers))
        for svc in chosen:
            cycle.windows[svc.name], cycle.verdicts[svc.name] = self._judge_one(
                svc, read.get(svc.name), now
            )
        return cycle

    async def _ask(self, batch: Batch, now: float) -> Answers:
        """A batch's traffic, error-ratio and latency answers (None: no such query)."""
        start, q = now - batch.span, batch.queries

        async def ask(kind: str, query: str | None) -> Answer | None:
            return None if query is None else await self._range(kind, query, start, now)

        traffic, errors, latency = await asyncio.gather(
            ask("traffic", q.traffic),
            ask("error_rate", q.error_ratio),
            ask("latency", q.latency_p95),
        )
        assert traffic is not None
        return traffic, errors, latency

    def _judge_one(
        self,
        svc: Service,
        answers: Answers | None,
        now: float,
    ) -> tuple[dict[str, float], list[TriggerVerdict]]:
        rb = svc.rollback
        assert rb is not None
        step, rate_window = self.engine.step.seconds, self.engine.rate_window.seconds
        start = now - span(self.cfg, svc)
        window = {"start": start, "end": now, "step": step, "rate_window": rate_window}
        if answers is None:  # no Prometheus trigger
            return window, []
        traffic, errors, latency = answers
        q = trigger_queries(self.cfg, svc)  # what the audit trail shows: its own query
        checks = [
            ("error_rate", q.error_ratio, rb.error_rate_above, errors),
            ("latency", q.latency_p95, rb.latency_p95_above_seconds, latency),
        ]
        out: list[TriggerVerdict] = []
        for trigger, query, threshold, answer in checks:
            if query is None or threshold is None or answer is None:
                continue
            failed = traffic.failed or answer.failed
            if failed:
                out.append(no_verdict(trigger, failed, query))
                continue
            out.append(
                window_verdict(
                    trigger,
                    _since(answer.series.get(svc.name, ()), start, step),
                    threshold=threshold,
                    window_start=now - rb.for_.seconds,
                    window_end=now,
                    step=step,
                    rate_window=rate_window,
                    query=query,
                    traffic=_since(traffic.series.get(svc.name, ()), start, step),
                    min_traffic=rb.min_request_rate,
                )
            )
        return window, out

    async def health(self, svc: Service, revision: Revision | None) -> list[TriggerVerdict]:
        """The health trigger, from the probe feature's records (none without targets)."""
        rb = svc.rollback
        assert rb is not None
        probes = await self.probes.for_service(svc.name)
        if rb.health_failures is None or not probes:
            return []
        streaks = [(p.up, p.consecutive_failures, p.since) for p in probes]
        deployed = revision.deployed_at if revision else None
        return [probes_verdict(streaks, rb.health_failures, deployed)]

    async def verdicts(
        self, svc: Service, revision: Revision | None, now: float
    ) -> tuple[list[TriggerVerdict], dict[str, float]]:
        """Every trigger of one service (its own queries: a batch of one)."""
        cycle = await self.judge([svc], now)
        health = await self.health(svc, revision)
        return cycle.verdicts[svc.name] + health, cycle.windows[svc.name]


def _since(points: Points, start: float, step: float) -> list[tuple[float, float]]:
    """The samples at or after ``start``: a longer range cut to this service's own. Both
    ranges end at the same time and span whole steps, so the samples kept are those a
    range from ``start`` would have had (half a step absorbs millisecond rounding)."""
    return [p for p in points if p[0] > start - step / 2]
