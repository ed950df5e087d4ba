"""1. System overview: is every service up and healthy, what is firing, are queues backing up.

The same size for 4 services or 500: counts on top, one sortable table row per service,
and the ``$service`` variable ("All" by default) to narrow the graphs.
"""

from __future__ import annotations

from typing import Any

from dashboards import _annotations
from dashboards import _panels as P
from sre import catalog as C
from sre import promql
from sre.config import Config

SLUG = "overview"
_SVC = 'service=~"$service"'


def _count(expr: str) -> str:
    """How many series ``expr`` returns; 0, not "no data", when it returns none."""
    return f"count({expr}) or vector(0)"


def _counts(cfg: Config) -> list[Any]:
    """Four numbers instead of a tile per service: at 500 services a tile each is noise."""
    s = cfg.selectors
    probe = promql.metric("sre_probe_success", s.daemon, _SVC)
    up = promql.metric("up", s.applications, _SVC)
    burning = 'ALERTS{alertname=~"SLOErrorBudgetBurn.+", alertstate="firing", ' + _SVC + "}"
    bad = ((P.GREEN, None), (P.RED, 1))
    return [
        P.stat(
            "Services failing their probe",
            "Services whose health probe (the worst of its targets, as the SRE daemon last "
            "saw it) fails now. Which ones: the Probe column of the summary below.",
            "none",
            [P.q(_count(f"min by (service) ({probe}) == 0"))],
            steps=bad,
        ),
        P.stat(
            "Services with no scrape target up",
            "Services whose every scrape target is down (Prometheus' up == 0).",
            "none",
            [P.q(_count(f"max by (service) ({up}) == 0"))],
            steps=bad,
        ),
        P.stat(
            "Services above their error threshold",
            "Services whose 5xx ratio (5m) is above their own alert threshold "
            "(rollback.error_rate_above, else 5%).",
            "none",
            [
                P.q(
                    _count(
                        f"{promql.metric(C.ERROR_RATIO, _SVC)} > on (service) "
                        f"{C.ERROR_RATIO_THRESHOLD}"
                    )
                )
            ],
            steps=bad,
        ),
        P.stat(
            "Services burning their error budget",
            "Services with a multi-window burn-rate alert firing (page or ticket): see the "
            "SLO dashboard.",
            "none",
            [P.q(_count(f"max by (service) ({burning})"))],
            steps=bad,
        ),
    ]


def build(cfg: Config) -> Any:
    s = cfg.selectors
    p95 = C.LATENCY_QUANTILES["p95"]
    probe = promql.metric("sre_probe_success", s.daemon, _SVC)
    panels = [
        P.row("Services"),
        *_counts(cfg),
        P.table(
            "Service summary",
            "Per service, now: health probe, scrape target up, request rate, share of 5xx "
            "responses and p95 latency (5m windows, from the recording rules).",
            "none",
            [
                P.instant(f"min by (service) ({probe})"),
                P.instant(f"min by (service) ({promql.metric('up', s.applications, _SVC)})"),
                P.instant(f"sum by (service) ({promql.metric(C.REQUEST_RATE, _SVC)})"),
                P.instant(f"max by (service) ({promql.metric(C.ERROR_RATIO, _SVC)})"),
                P.instant(f"max by (service) ({promql.metric(p95, _SVC)})"),
            ],
            columns=[
                P.Column("Probe", "none", ((P.RED, None), (P.GREEN, 1)), P.UP_DOWN),
                P.Column("Scrape up", "none", ((P.RED, None), (P.GREEN, 1)), P.UP_DOWN),
                P.Column("Requests/s", "reqps"),
                P.Column("5xx ratio", "percentunit", ((P.GREEN, None), (P.RED, 0.05))),
                P.Column("p95", "s"),
            ],
            w=24,
            h=7,
        ),
        P.timeseries(
            "Request rate",
            "Requests per second per service, all status codes.",
            "reqps",
            [P.q(f"sum by (service) ({promql.metric(C.REQUEST_RATE, _SVC)})", "{{service}}")],
            w=8,
        ),
        P.timeseries(
            "Error ratio (5xx)",
            "Share of responses with a 5xx status per service. The red line is the 5% "
            "alerting threshold.",
            "percentunit",
            [P.q(f"max by (service) ({promql.metric(C.ERROR_RATIO, _SVC)})", "{{service}}")],
            w=8,
            min_=0,
            steps=((P.GREEN, None), (P.RED, 0.05)),
            threshold_style="line",
        ),
        P.timeseries(
            "Latency p95",
            "95th percentile request latency per service over 5m windows.",
            "s",
            [P.q(f"max by (service) ({promql.metric(p95, _SVC)})", "{{service}}")],
            w=8,
            min_=0,
        ),
        P.row("Alerts and queues"),
        P.table(
            "Firing alerts",
            "Every alert Prometheus has firing now, with its labels; the severity label says "
            "who is paged.",
            "none",
            [P.instant('sort_desc(ALERTS{alertstate="firing"})')],
            columns=[P.Column("Active", "none")],
            hide=("Time", "__name__", "alertstate"),
            w=16,
            h=9,
        ),
        P.timeseries(
            "Queue length",
            "Tasks waiting in each Redis queue.",
            "short",
            [P.q(f"sum by (queue) ({promql.metric(C.QUEUE_LENGTH, s.agents)})", "{{queue}}")],
            w=8,
            h=9,
            min_=0,
        ),
    ]
    return P.dashboard(
        cfg,
        SLUG,
        "System overview",
        "Per service health, traffic, errors and latency; firing alerts; queue backlog.",
        panels,
        variables=[P.service_variable()],
        annotations=_annotations.events(cfg, service="service", by_tag=False),
    )
