"""The PromQL behind the error-rate and latency triggers (pure: strings in, strings out).

Each is a range query over the whole ``for`` window; every sample is one ``rate()`` over
``daemon.rollbacks.rate_window`` ending at that step. The selector is
``selectors.applications`` plus ``service="<name>"``, as in the recording rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from sre import catalog
from sre.config import Config, Service

SERVER_ERROR = 'code=~"5.."'


@dataclass(frozen=True)
class TriggerQueries:
    traffic: str  # requests/s: the "too little traffic" guard
    error_ratio: str | None  # 5xx / all
    latency_p95: str | None  # seconds


def sel(*matchers: str) -> str:
    parts = [m.strip() for m in matchers if m and m.strip()]
    return "{" + ", ".join(parts) + "}" if parts else ""


def promql_duration(seconds: float) -> str:
    """60 -> ``60s``, 2.5 -> ``2500ms`` (PromQL durations are whole units)."""
    ms = round(seconds * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def trigger_queries(cfg: Config, service: Service) -> TriggerQueries:
    rb = service.rollback
    if rb is None:
        raise ValueError(f"service {service.name} has no rollback block")
    window = promql_duration(cfg.daemon.rollbacks.rate_window.seconds)
    only = f'service="{service.name}"'
    app = cfg.selectors.applications
    total = f"sum(rate({catalog.HTTP_REQUESTS}{sel(app, only)}[{window}]))"
    errors = f"sum(rate({catalog.HTTP_REQUESTS}{sel(app, only, SERVER_ERROR)}[{window}]))"
    buckets = f"rate({catalog.HTTP_DURATION_BUCKET}{sel(app, only)}[{window}])"
    # "or 0 * total": a service that never answered a 5xx has no error series at all; its
    # ratio is 0, not "no data".
    ratio = f"({errors} or 0 * {total}) / {total}"
    latency = f"histogram_quantile(0.95, sum by (le) ({buckets}))"
    return TriggerQueries(
        traffic=total,
        error_ratio=ratio if rb.error_rate_above is not None else None,
        latency_p95=latency if rb.latency_p95_above_seconds is not None else None,
    )
