"""6. SLOs: per service with an SLO, the SLI, the error budget left over 30 days, burn rates.

Burn rate = error ratio over a window / the service's error budget (the constant series
``SLO_ERROR_BUDGET``), as in the Google SRE workbook: 1 spends the budget exactly in 30 days.
One row per service, built from ``sre.yaml``, so a new SLO gets its panels by config alone.
"""

from __future__ import annotations

from typing import Any

from dashboards import _panels as P
from sre import catalog as C
from sre import promql
from sre.config import Config, Service

SLUG = "slo"
COMPLIANCE_WINDOW = "30d"
# The page and ticket factors of the alerts, as lines on the burn-rate graph.
_BURN_STEPS = tuple(
    sorted(
        {(P.GREEN, None)}
        | {
            (P.RED if a.severity == "critical" else P.ORANGE, float(a.factor))
            for a in C.BURN_RATE_ALERTS
        },
        key=lambda step: -1.0 if step[1] is None else step[1],
    )
)
_ALERT_FACTORS = "; ".join(
    f"{'page' if a.severity == 'critical' else 'ticket'} at {a.factor} over {a.long_window}"
    f" and {a.short_window}"
    for a in C.BURN_RATE_ALERTS
)


def _burn(window: str, service: str) -> str:
    svc = f'service="{service}"'
    return (
        f"{promql.metric(C.slo_error_ratio(window), svc)}"
        f" / on (service) {promql.metric(C.SLO_ERROR_BUDGET, svc)}"
    )


def _service_panels(svc: Service) -> list[Any]:
    assert svc.slo is not None
    budget = svc.slo.error_budget
    objective = float(svc.slo.availability / 100)
    this = f'service="{svc.name}"'
    error_30d = promql.metric(C.slo_error_ratio(COMPLIANCE_WINDOW), this)
    alert_windows = sorted(
        {a.long_window for a in C.BURN_RATE_ALERTS} | {a.short_window for a in C.BURN_RATE_ALERTS},
        key=C.SLO_WINDOWS.index,
    )
    panels = [
        P.row(f"{svc.name}: {svc.slo.availability}% available over {COMPLIANCE_WINDOW}"),
        P.stat(
            "Availability (SLI, 30d)",
            f"Share of {svc.name} requests that did not fail with a 5xx over the last 30 days. "
            f"Objective: {svc.slo.availability}%.",
            "percentunit",
            [P.q(f"1 - {error_30d}")],
            w=4,
            h=8,
            decimals=3,
            steps=((P.RED, None), (P.GREEN, objective)),
        ),
        P.stat(
            "Error budget remaining (30d)",
            f"Share of the 30-day error budget ({budget} of requests) not yet spent: "
            "1 - error ratio / budget. Below 0 the SLO is broken.",
            "percentunit",
            [P.q(f"1 - {_burn(COMPLIANCE_WINDOW, svc.name)}")],
            w=4,
            h=8,
            decimals=1,
            steps=((P.RED, None), (P.ORANGE, 0.0), (P.GREEN, 0.25)),
        ),
        P.bargauge(
            "Burn rate per window",
            "Error ratio over each window divided by the error budget. 1 spends the budget in "
            f"exactly 30 days. The alerts: {_ALERT_FACTORS}.",
            "suffix:x",
            [P.q(_burn(w, svc.name), w) for w in C.SLO_WINDOWS],
            w=8,
            h=8,
            max_=20,
            steps=_BURN_STEPS,
        ),
        P.timeseries(
            "Burn rate over time",
            "Burn rate over the multi-window alert windows; lines mark the alert factors.",
            "suffix:x",
            [P.q(_burn(w, svc.name), w) for w in alert_windows],
            w=8,
            h=8,
            min_=0,
            steps=_BURN_STEPS,
            threshold_style="line",
        ),
    ]
    if svc.slo.latency_p95_seconds is not None:
        target = svc.slo.latency_p95_seconds
        panels.append(
            P.timeseries(
                "Latency p95 vs target",
                f"95th percentile latency of {svc.name} (5m windows) against its SLO target "
                f"of {target}s (red line).",
                "s",
                [P.q(promql.metric(C.LATENCY_QUANTILES["p95"], this), "p95")],
                w=24,
                h=6,
                min_=0,
                steps=((P.GREEN, None), (P.RED, target)),
                threshold_style="line",
            )
        )
    return panels


def build(cfg: Config) -> Any:
    panels: list[Any] = []
    for svc in cfg.services:
        if svc.slo is not None:
            panels += _service_panels(svc)
    if not panels:
        panels = [
            P.table(
                "No SLOs",
                "No service in sre.yaml has an slo section; this table lists the budget series "
                "Prometheus has anyway.",
                "percentunit",
                [P.instant(C.SLO_ERROR_BUDGET)],
                w=24,
            )
        ]
    return P.dashboard(
        cfg,
        SLUG,
        "SLOs",
        "Per service with an SLO: availability over 30 days, error budget left, burn rates "
        "per window and latency against its target.",
        panels,
        time_from="now-7d",
    )
