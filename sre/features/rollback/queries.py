"""The PromQL behind the error-rate and latency triggers (pure: strings in, strings out).

Each is a range query over the whole ``for`` window; every sample is one ``rate()`` over
``daemon.rollbacks.rate_window`` ending at that step. The expressions are the recording
rules' own (``sre.promql``), over ``selectors.applications`` plus a ``service`` matcher,
summed ``by (service)``.

Every service reads its series the same way (the application selector and its ``service``
label), so one query of each kind can answer for many services: :func:`batches` groups the
services of one evaluation cycle by how far back their window reaches and spells each
kind once per group, over ``service=~"a|b|..."``. What differs per service (thresholds,
``for``, minimum traffic, which triggers it has) is applied to its own series afterwards.
:func:`trigger_queries` is the same text for one service (``service="api"``): what the
audit trail shows, and what a batch of one sends.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sre.config import Config, Service
from sre.promql import duration, error_ratio, latency_quantile, matchers, one_of, request_rate

# Services whose windows differ share at most this many windows per cycle (the shorter ones
# read a longer range and cut it): at most 3 kinds x 3 windows = 9 queries per cycle.
MAX_WINDOWS = 3


@dataclass(frozen=True)
class TriggerQueries:
    traffic: str  # requests/s: the "too little traffic" guard
    error_ratio: str | None  # 5xx / all
    latency_p95: str | None  # seconds


@dataclass(frozen=True)
class Batch:
    """Queries answering for ``services`` over the last ``span`` seconds."""

    span: float
    services: tuple[str, ...]  # every service judged from it (the traffic query's)
    queries: TriggerQueries  # error and latency over the services with that trigger


def _queries(
    cfg: Config, traffic: Sequence[str], errors: Sequence[str], latency: Sequence[str]
) -> TriggerQueries:
    window = duration(cfg.daemon.rollbacks.rate_window.seconds)

    def only(names: Iterable[str]) -> str:
        return matchers(cfg.selectors.applications, one_of("service", names))

    return TriggerQueries(
        traffic=request_rate(only(traffic), window),
        error_ratio=error_ratio(only(errors), window) if errors else None,
        latency_p95=latency_quantile("0.95", only(latency), window) if latency else None,
    )


def trigger_queries(cfg: Config, service: Service) -> TriggerQueries:
    rb = service.rollback
    if rb is None:
        raise ValueError(f"service {service.name} has no rollback block")
    errors = [service.name] if rb.error_rate_above is not None else []
    latency = [service.name] if rb.latency_p95_above_seconds is not None else []
    return _queries(cfg, [service.name], errors, latency)


def span(cfg: Config, service: Service) -> float:
    """How far back a service's range reaches: ``for`` + ``rate_window`` in whole steps.

    Each sample is a rate() over rate_window, which breaches as soon as its window holds a
    little of a burst: samples must span for + rate_window to prove the errors lasted the
    whole ``for`` (see ``window_verdict``). Whole steps, so that Prometheus' step-aligned
    samples land on both ends, and on a shorter span's start inside a longer range.
    """
    rb = service.rollback
    if rb is None:
        raise ValueError(f"service {service.name} has no rollback block")
    engine = cfg.daemon.rollbacks
    step = engine.step.seconds
    return math.ceil((rb.for_.seconds + engine.rate_window.seconds) / step - 1e-9) * step


def batches(cfg: Config, services: Iterable[Service]) -> list[Batch]:
    """The queries of one cycle for ``services`` (those without a Prometheus trigger need
    none): at most :data:`MAX_WINDOWS` batches, longest span first."""
    by_span: dict[float, list[Service]] = {}
    for svc in services:
        if not (_has(svc, "error_rate_above") or _has(svc, "latency_p95_above_seconds")):
            continue
        by_span.setdefault(span(cfg, svc), []).append(svc)
    spans = sorted(by_span)
    reach = merged_spans([(s, len(by_span[s])) for s in spans], MAX_WINDOWS)
    groups: dict[float, list[Service]] = {}
    for own, read in zip(spans, reach, strict=True):
        groups.setdefault(read, []).extend(by_span[own])
    out = []
    for read, members in sorted(groups.items(), reverse=True):
        names = sorted(s.name for s in members)
        errors = sorted(s.name for s in members if _has(s, "error_rate_above"))
        latency = sorted(s.name for s in members if _has(s, "latency_p95_above_seconds"))
        out.append(Batch(read, tuple(names), _queries(cfg, names, errors, latency)))
    return out


def _has(service: Service, threshold: str) -> bool:
    return getattr(service.rollback, threshold, None) is not None


def merged_spans(spans: Sequence[tuple[float, int]], most: int) -> list[float]:
    """For ``spans`` (ascending, each with its number of services), the span each one is
    read with when at most ``most`` distinct ranges may be queried: adjacent spans share the
    longest of their group, grouped so that the fewest samples are read (span x services)."""
    n = len(spans)
    if n <= most:
        return [s for s, _ in spans]
    inf = math.inf
    # best[g][i]: least cost of the first i spans in g groups; cut[g][i]: where the last began.
    best = [[inf] * (n + 1) for _ in range(most + 1)]
    cut = [[0] * (n + 1) for _ in range(most + 1)]
    best[0][0] = 0.0
    for g in range(1, most + 1):
        for i in range(1, n + 1):
            for j in range(i):
                cost = best[g - 1][j] + spans[i - 1][0] * sum(c for _, c in spans[j:i])
                if cost < best[g][i]:
                    best[g][i], cut[g][i] = cost, j
    out = [0.0] * n
    i = n
    for g in range(most, 0, -1):
        j = cut[g][i]
        for k in range(j, i):
            out[k] = spans[i - 1][0]
        i = j
    return out
