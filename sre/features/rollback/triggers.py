"""The triggers of one service over its ``for`` window: error rate and p95 latency from
Prometheus range queries (``queries.py``), health from the probe feature's records.

Each trigger gives a three-state verdict (``sre.checks.rollback``); a query that cannot be
answered (Prometheus down, a query error, a time-out) is a no-verdict, never a fail.
"""

from __future__ import annotations

import asyncio
import logging
import math
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
from sre.features.rollback.queries import trigger_queries

log = logging.getLogger(__name__)

CLIENT_REASONS = {"unreachable": "prometheus_unreachable"}  # everything else: query_error


class ProbeStatus(Protocol):
    """What the triggers read from the probe feature (from the shared store when several
    replicas probe: whichever probed a target)."""

    async def for_service(self, service: str) -> list[ProbeState]: ...


class Triggers:
    def __init__(self, cfg: Config, prometheus: PrometheusClient, probes: ProbeStatus) -> None:
        self.cfg = cfg
        self.engine = cfg.daemon.rollbacks
        self.prom = prometheus
        self.probes = probes

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
        probes = await self.probes.for_service(svc.name)
        if rb.health_failures is not None and probes:
            streaks = [(p.up, p.consecutive_failures, p.since) for p in probes]
            deployed = revision.deployed_at if revision else None
            out.append(probes_verdict(streaks, rb.health_failures, deployed))
        return out, window
