"""Recording rules for the hot expressions the dashboards and alerts share.

Ratios use ``(errors or 0 * all) / all`` so a service that never sent a 5xx records 0, not
nothing: a missing series would read as "no data" on a dashboard and in a budget.
"""

from __future__ import annotations

from sre import catalog
from sre.config import Config
from sre.model import Record, RuleGroup
from sre.promql import (
    AUTH_FAILURE,
    error_ratio,
    latency_quantile,
    ratio,
    request_rate,
    sel,
)

FILE = "recording"
WINDOW = "5m"
QUANTILES = {"p50": "0.5", "p95": "0.95", "p99": "0.99"}


def http_records(cfg: Config) -> tuple[Record, ...]:
    app = cfg.selectors.applications
    records = [
        Record(catalog.REQUEST_RATE, request_rate(app, WINDOW)),
        Record(catalog.CODE_RATE, request_rate(app, WINDOW, by="service, code")),
        Record(catalog.ERROR_RATIO, error_ratio(app, WINDOW)),
        Record(catalog.AUTH_FAILURE_RATIO, error_ratio(app, WINDOW, bad=AUTH_FAILURE)),
    ]
    records += [
        Record(catalog.LATENCY_QUANTILES[key], latency_quantile(q, app, WINDOW))
        for key, q in QUANTILES.items()
    ]
    return tuple(records)


def agent_records(cfg: Config) -> tuple[Record, ...]:
    agents = cfg.selectors.agents
    processed = f"rate({catalog.AGENT_TASKS_PROCESSED}{sel(agents)}[5m])"
    failed = f"rate({catalog.AGENT_TASKS_FAILED}{sel(agents)}[5m])"
    buckets = f"rate({catalog.AGENT_TASK_DURATION}_bucket{sel(agents)}[5m])"
    return (
        Record(catalog.AGENT_PROCESSED_RATE, f"sum by (agent) ({processed})"),
        Record(catalog.AGENT_FAILURE_RATIO, ratio("agent", failed, processed)),
        Record(catalog.AGENT_P95, f"histogram_quantile(0.95, sum by (agent, le) ({buckets}))"),
    )


def groups(cfg: Config) -> list[RuleGroup]:
    return [
        RuleGroup(f"{cfg.system}.http.recording", FILE, http_records(cfg)),
        RuleGroup(f"{cfg.system}.agents.recording", FILE, agent_records(cfg)),
    ]
