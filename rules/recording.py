"""Recording rules for the hot expressions the dashboards and alerts share.

Ratios use ``(errors or 0 * all) / all`` so a service that never sent a 5xx records 0, not
nothing: a missing series would read as "no data" on a dashboard and in a budget.
"""

from __future__ import annotations

from sre import catalog
from sre.config import Config
from sre.model import Record, RuleGroup

from ._common import sel

FILE = "recording"
SERVER_ERROR = 'code=~"5.."'
AUTH_FAILURE = 'code=~"401|403"'
QUANTILES = {"p50": "0.5", "p95": "0.95", "p99": "0.99"}


def ratio(by: str, bad: str, total: str) -> str:
    """``sum by (x) (bad) / sum by (x) (total)``, 0 where ``bad`` has no series at all."""
    return (
        f"(\n  sum by ({by}) ({bad})\n  or\n  0 * sum by ({by}) ({total})\n)\n"
        f"/\nsum by ({by}) ({total})"
    )


def http_records(cfg: Config) -> tuple[Record, ...]:
    app = cfg.selectors.applications
    total = f"rate({catalog.HTTP_REQUESTS}{sel(app)}[5m])"
    errors = f"rate({catalog.HTTP_REQUESTS}{sel(app, SERVER_ERROR)}[5m])"
    auth = f"rate({catalog.HTTP_REQUESTS}{sel(app, AUTH_FAILURE)}[5m])"
    buckets = f"rate({catalog.HTTP_DURATION_BUCKET}{sel(app)}[5m])"
    records = [
        Record(catalog.REQUEST_RATE, f"sum by (service) ({total})"),
        Record(catalog.CODE_RATE, f"sum by (service, code) ({total})"),
        Record(catalog.ERROR_RATIO, ratio("service", errors, total)),
        Record(catalog.AUTH_FAILURE_RATIO, ratio("service", auth, total)),
    ]
    records += [
        Record(
            catalog.LATENCY_QUANTILES[key],
            f"histogram_quantile({q}, sum by (service, le) ({buckets}))",
        )
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
