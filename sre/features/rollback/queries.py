"""The PromQL behind the error-rate and latency triggers (pure: strings in, strings out).

Each is a range query over the whole ``for`` window; every sample is one ``rate()`` over
``daemon.rollbacks.rate_window`` ending at that step. The expressions are the recording
rules' own (``sre.promql``), over ``selectors.applications`` plus ``service="<name>"``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sre.config import Config, Service
from sre.promql import duration, error_ratio, latency_quantile, matchers, request_rate


@dataclass(frozen=True)
class TriggerQueries:
    traffic: str  # requests/s: the "too little traffic" guard
    error_ratio: str | None  # 5xx / all
    latency_p95: str | None  # seconds


def trigger_queries(cfg: Config, service: Service) -> TriggerQueries:
    rb = service.rollback
    if rb is None:
        raise ValueError(f"service {service.name} has no rollback block")
    window = duration(cfg.daemon.rollbacks.rate_window.seconds)
    only = matchers(cfg.selectors.applications, f'service="{service.name}"')
    return TriggerQueries(
        traffic=request_rate(only, window),
        error_ratio=error_ratio(only, window) if rb.error_rate_above is not None else None,
        latency_p95=(
            latency_quantile("0.95", only, window)
            if rb.latency_p95_above_seconds is not None
            else None
        ),
    )
