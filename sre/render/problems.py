"""What a render check finds: :class:`Problem`, and the ids of all checks."""

from __future__ import annotations

from dataclasses import dataclass

# id -> what the check makes sure of (shown in the summary table, in this order).
CHECKS: dict[str, str] = {
    "content": "dashboards and rule groups build",
    "promtool-rules": "promtool check rules on build/rules/*.yaml",
    "promtool-promql": "dashboard PromQL parses (promtool, variables substituted)",
    "recording-rules": "recording rules used by dashboards and rules are defined",
    "alerts": "alerts carry severity, summary, description, runbook_url, environment",
    "runbooks": "every alert has runbooks/<AlertName>.md",
    "naming": "alerts CamelCase, records level:metric:operations, sre_* in catalogue",
    "layout": "panels do not overlap and have unique ids",
    "panels": "panels: unit, description, datasource by uid, no graph/singlestat",
    "dashboards": "schemaVersion >= 39, uids and titles unique",
    "kubernetes": "Kubernetes objects under 1 MiB, valid names",
    "scrape": "scrape targets carry the labels the rules select on",
    "promtool-config": "promtool check config on build/prometheus/prometheus.yaml",
    "alertmanager-routes": "every route reachable; routes and inhibitions name real alerts",
    "amtool-config": "amtool check-config on build/alertmanager/alertmanager.yaml",
    "amtool-routes": "route tests (one per route + sre.yaml route_tests) pass amtool",
}
PROMTOOL_CHECKS = ("promtool-rules", "promtool-promql", "promtool-config")
AMTOOL_CHECKS = ("amtool-config", "amtool-routes")


@dataclass(frozen=True, order=True)
class Problem:
    """One finding: which check, where (file/dashboard/panel/alert), and what is wrong."""

    check: str
    where: str
    message: str

    def __post_init__(self) -> None:
        if self.check not in CHECKS:
            raise ValueError(f"unknown check id {self.check!r}")

    def __str__(self) -> str:
        return f"[{self.check}] {self.where}: {self.message}"
