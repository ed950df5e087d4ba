"""6. SLOs: one table of every SLO, then one service in detail (Pyrra's list and detail).

Burn rate = error ratio over a window / the service's error budget (the series
``SLO_ERROR_BUDGET`` that ``rules/thresholds.py`` records), as in the Google SRE workbook:
1 spends the budget exactly in 30 days. Nothing here is per service: the table has a row
per SLO from the budget series, and the detail rows are drawn by Grafana once per service
selected in ``$service`` (a repeated row), so the dashboard is the same size for 4 services
or 500.
"""

from __future__ import annotations

from typing import Any

from dashboards import _annotations
from dashboards import _panels as P
from sre import catalog as C
from sre import promql
from sre.config import Config

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
_LONG_WINDOWS = [a.long_window for a in C.BURN_RATE_ALERTS]
_ALERT_WINDOWS = sorted(
    {a.long_window for a in C.BURN_RATE_ALERTS} | {a.short_window for a in C.BURN_RATE_ALERTS},
    key=C.SLO_WINDOWS.index,
)
_BUDGET_STEPS = ((P.RED, None), (P.ORANGE, 0.0), (P.GREEN, 0.25))
_SELECTED = 'service="$service"'
# 0 = no burn alert firing, 1 = a ticket, 2 = a page.
_STATE = (
    {
        "type": "value",
        "options": {
            "0": {"text": "OK", "color": P.GREEN, "index": 0},
            "1": {"text": "ticket", "color": P.ORANGE, "index": 1},
            "2": {"text": "page", "color": P.RED, "index": 2},
        },
    },
)


def burn(window: str, *matchers: str) -> str:
    return (
        f"{promql.metric(C.slo_error_ratio(window), *matchers)}"
        f" / on (service) {promql.metric(C.SLO_ERROR_BUDGET, *matchers)}"
    )


def _state() -> str:
    burning = 'ALERTS{alertname=~"SLOErrorBudgetBurn.+", alertstate="firing"'
    return (
        f'max by (service) (2 * {burning}, severity="critical"}}'
        f' or {burning}, severity!="critical"}})'
        f" or max by (service) (0 * {C.SLO_ERROR_BUDGET})"
    )


def overview(cfg: Config) -> list[Any]:
    uid = C.dashboard_uid(cfg.system, SLUG)
    queries = [
        P.instant(f"max by (service) (1 - {C.SLO_ERROR_BUDGET})"),
        P.instant(f"max by (service) (1 - {C.slo_error_ratio(COMPLIANCE_WINDOW)})"),
        P.instant(f"max by (service) (1 - {burn(COMPLIANCE_WINDOW)})"),
        *(P.instant(f"max by (service) ({burn(w)})") for w in _LONG_WINDOWS),
        P.instant(_state()),
    ]
    columns = [
        P.Column("Objective", "percentunit"),
        P.Column(f"Availability ({COMPLIANCE_WINDOW})", "percentunit"),
        P.Column("Error budget left", "percentunit", _BUDGET_STEPS),
        *(P.Column(f"Burn {w}", "suffix:x", _BURN_STEPS) for w in _LONG_WINDOWS),
        P.Column("Alerts", "none", mappings=_STATE),
    ]
    return [
        P.row("Every SLO"),
        P.table(
            "Service level objectives",
            "One row per service with an SLO: its objective, availability and error budget "
            f"left over {COMPLIANCE_WINDOW}, burn rate over the long window of each alert "
            f"({_ALERT_FACTORS}) and whether a burn-rate alert fires. Sorted by budget left; "
            "click a service for its detail below.",
            "percentunit",
            queries,
            columns=columns,
            links=[
                P.Link(
                    "service",
                    "Show ${__value.raw}",
                    f"/d/{uid}?var-service=${{__value.raw}}&${{__url_time_range}}",
                )
            ],
            sort_by="Error budget left",
            w=24,
            h=12,
        ),
    ]


def detail() -> list[Any]:
    error_30d = promql.metric(C.slo_error_ratio(COMPLIANCE_WINDOW), _SELECTED)
    return [
        P.row("$service", repeat="service"),
        P.stat(
            "Availability (SLI, 30d)",
            f"Share of requests that did not fail with a 5xx over the last {COMPLIANCE_WINDOW}, "
            "against the objective.",
            "percentunit",
            [
                P.q(f"1 - {error_30d}", "availability"),
                P.q(f"1 - {promql.metric(C.SLO_ERROR_BUDGET, _SELECTED)}", "objective"),
            ],
            w=4,
            h=8,
            decimals=3,
            text_mode="value_and_name",
        ),
        P.stat(
            "Error budget remaining (30d)",
            "Share of the 30-day error budget not yet spent: 1 - error ratio / budget. "
            "Below 0 the SLO is broken.",
            "percentunit",
            [P.q(f"1 - {burn(COMPLIANCE_WINDOW, _SELECTED)}")],
            w=4,
            h=8,
            decimals=1,
            steps=_BUDGET_STEPS,
        ),
        P.bargauge(
            "Burn rate per window",
            "Error ratio over each window divided by the error budget. 1 spends the budget in "
            f"exactly 30 days. The alerts: {_ALERT_FACTORS}.",
            "suffix:x",
            [P.q(burn(w, _SELECTED), w) for w in C.SLO_WINDOWS],
            w=8,
            h=8,
            max_=20,
            steps=_BURN_STEPS,
        ),
        P.timeseries(
            "Burn rate over time",
            "Burn rate over the multi-window alert windows; lines mark the alert factors.",
            "suffix:x",
            [P.q(burn(w, _SELECTED), w) for w in _ALERT_WINDOWS],
            w=8,
            h=8,
            min_=0,
            steps=_BURN_STEPS,
            threshold_style="line",
        ),
        P.timeseries(
            "Error budget remaining over time",
            f"1 - error ratio over the trailing {COMPLIANCE_WINDOW} / budget, at each point in "
            "time: how the budget was spent.",
            "percentunit",
            [P.q(f"1 - {burn(COMPLIANCE_WINDOW, _SELECTED)}", "budget left")],
            w=12,
            h=7,
            steps=_BUDGET_STEPS,
            threshold_style="line",
        ),
        P.timeseries(
            "Latency p95 vs objective",
            "95th percentile latency (5m windows) and the SLO's latency objective "
            "(slo.latency_p95_seconds), where the service has one.",
            "s",
            [
                P.q(promql.metric(C.LATENCY_QUANTILES["p95"], _SELECTED), "p95"),
                P.q(promql.metric(C.SLO_LATENCY_OBJECTIVE, _SELECTED), "objective"),
            ],
            w=12,
            h=7,
            min_=0,
        ),
    ]


def build(cfg: Config) -> Any:
    return P.dashboard(
        cfg,
        SLUG,
        "SLOs",
        "Every SLO in one table (objective, availability, error budget left, burn rates, "
        "alerts), then the selected services in detail: burn rate per window and over time, "
        "budget spent, latency against its objective.",
        overview(cfg) + detail(),
        # Several services may be selected (their rows side by side), but not "All": a
        # row per SLO is what the table is for.
        variables=[
            P.variable(
                "service",
                "Service",
                f"label_values({C.SLO_ERROR_BUDGET}, service)",
                multi=True,
                include_all=False,
            )
        ],
        annotations=_annotations.events(cfg, service="service"),
        time_from="now-7d",
    )
