"""SLO recording rules and multi-window, multi-burn-rate alerts (Google SRE workbook, ch. 5).

For every service with an SLO: its 5xx ratio over each window in ``SLO_WINDOWS``, one rule
per window for every service (joined on the error budget series that ``rules/thresholds.py``
records, exact Decimal text: 99.9 -> ``0.001``, so only services with an SLO get one). An alert
row fires when BOTH its long and its short window burn faster than ``factor x budget``:
the long window proves the burn is significant, the short one that it is still going on.
"""

from __future__ import annotations

from sre import catalog
from sre.config import Config, Service
from sre.config.durations import Duration
from sre.model import Record, RuleGroup, Severity
from sre.promql import error_ratio, num

from ._common import AlertFactory

FILE = "slo"
DASHBOARD = "slo"


def slo_services(cfg: Config) -> list[Service]:
    return [s for s in cfg.services if s.slo is not None]


def burn_alert_name(row: catalog.BurnRateAlert) -> str:
    return f"SLOErrorBudgetBurn{row.long_window}{row.short_window}"


def records(cfg: Config) -> tuple[Record, ...]:
    app = cfg.selectors.applications
    return tuple(
        Record(
            catalog.slo_error_ratio(window),
            f"(\n{error_ratio(app, window)}\n)\nand on (service)\n{catalog.SLO_ERROR_BUDGET}",
        )
        for window in catalog.SLO_WINDOWS
    )


def burn_condition(window: str, factor: str) -> str:
    return (
        f"{catalog.slo_error_ratio(window)}\n"
        f"  > on (service)\n({factor} * {catalog.SLO_ERROR_BUDGET})"
    )


def alerts(cfg: Config) -> tuple[RuleGroup, ...]:
    make = AlertFactory(cfg)
    rules = []
    for row in catalog.BURN_RATE_ALERTS:
        factor = num(row.factor)
        kind = "page" if row.severity == "critical" else "ticket"
        severity: Severity = "critical" if row.severity == "critical" else "warning"
        expr = (
            f"(\n{burn_condition(row.long_window, factor)}\n)\nand on (service)\n"
            f"(\n{burn_condition(row.short_window, factor)}\n)"
        )
        rules.append(
            make(
                burn_alert_name(row),
                expr,
                severity=severity,
                summary=(
                    f"Error budget burning over {factor}x too fast "
                    f"({row.long_window} and {row.short_window} windows)"
                ),
                description=(
                    "{{ $labels.service }} has served {{ $value | humanizePercentage }} "
                    f"errors over the last {row.long_window}, more than {factor} times its "
                    f"error budget, and is still doing so over the last {row.short_window} "
                    f"({kind})."
                ),
                for_=Duration.parse(row.for_),
                dashboard=DASHBOARD,
                labels={"long_window": row.long_window, "short_window": row.short_window},
            )
        )
    return (RuleGroup(f"{cfg.system}.slo.alerts", FILE, tuple(rules)),)


def groups(cfg: Config) -> list[RuleGroup]:
    if not slo_services(cfg):
        return []
    return [RuleGroup(f"{cfg.system}.slo.recording", FILE, records(cfg)), *alerts(cfg)]
