"""1. System overview: is every service up and healthy, what is firing, are queues backing up."""

from __future__ import annotations

from typing import Any

from dashboards import _panels as P
from sre import catalog as C
from sre import promql
from sre.config import Config

SLUG = "overview"
_SVC = 'service=~"$service"'


def build(cfg: Config) -> Any:
    s = cfg.selectors
    p95 = C.LATENCY_QUANTILES["p95"]
    probe = promql.metric("sre_probe_success", s.daemon, _SVC)
    panels = [
        P.row("Services"),
        P.stat(
            "Health probes",
            "Each service's health probe as the SRE daemon last saw it: the worst of its "
            "targets (1 = every probe passed).",
            "none",
            [P.q(f"min by (service) ({probe})", "{{service}}")],
            w=24,
            h=4,
            steps=((P.RED, None), (P.GREEN, 1)),
            mappings=P.UP_DOWN,
            graph=False,
            text_mode="value_and_name",
        ),
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
    )
