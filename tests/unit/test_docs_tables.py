"""The hand-written tables that copy the code agree with it: the alert tables
(docs/rules-and-alerts.md, docs/operations.md), the metrics the platform must export
(docs/rules-and-alerts.md) and the rollback trigger's queries (docs/rollbacks.md)."""

from __future__ import annotations

import re

import pytest

import rules
from sre import catalog
from sre.config import Config, load_config
from sre.features.rollback.queries import trigger_queries
from sre.model import Alert
from sre.render import content
from sre.render.dashboard_queries import dashboard_queries, metric_names
from tests.helpers.docs import ROOT, section, split, table_rows

RULES_PAGE = ROOT / "docs" / "rules-and-alerts.md"
TYPES = {"counter", "gauge", "histogram"}


@pytest.fixture(scope="module")
def cfg() -> Config:
    return load_config(ROOT / "sre.yaml")


def alerts(cfg: Config, group_suffix: str = "") -> set[str]:
    return {
        rule.alert
        for group in rules.all_groups(cfg)
        if group.name.endswith(group_suffix)
        for rule in group.rules
        if isinstance(rule, Alert)
    }


def first_column_names(text: str) -> set[str]:
    return {
        name.strip().strip("`")
        for row in table_rows(text)
        for name in row[0].split(",")
        if name.strip()
    }


def test_the_alert_table_lists_every_alert(cfg: Config) -> None:
    table = section(RULES_PAGE, "## Alerts").split("\n### ")[0]
    assert first_column_names(table) == alerts(cfg)


def test_the_operations_table_lists_the_daemons_alerts(cfg: Config) -> None:
    table = section(ROOT / "docs" / "operations.md", "## The daemon's own alerts")
    assert first_column_names(table) == alerts(cfg, ".sre-daemon.alerts")


def platform_metrics(text: str) -> set[str]:
    """Metric names in the "metric" column of the monitored-system tables."""
    found = set()
    for row in table_rows(text):
        # (exporter, metric, type, used for) or (metric, type, labels, meaning)
        cell = row[1] if row[2] in TYPES else row[0]
        for span in re.findall(r"`([^`]+)`", re.sub(r"\([^)]*\)", "", cell)):
            found.add(span.split("{")[0])
    return found


def used_platform_metrics(cfg: Config) -> set[str]:
    """What the rendered rules and dashboards read from the platform: every series name but
    recording rules, the daemon's sre_* metrics and the agent metrics (in the reference)."""
    loaded = content.load(cfg)
    names: set[str] = set()
    for dashboard in loaded.dashboards:
        for query in dashboard_queries(dashboard):
            names |= metric_names(query.promql)
    for group in loaded.groups:
        for rule in group.rules:
            names |= metric_names(rule.expr)
    agents = {n.removesuffix("_bucket") for n in names} & set(catalog.AGENT_METRICS)
    return {
        n
        for n in names
        if ":" not in n and not n.startswith("sre_") and n.removesuffix("_bucket") not in agents
    }


def test_the_monitored_metrics_are_exactly_those_the_rules_and_dashboards_read(
    cfg: Config,
) -> None:
    documented = platform_metrics(section(RULES_PAGE, "## Metrics of the monitored system"))
    assert documented == used_platform_metrics(cfg)
    assert {"up", "ALERTS", "http_requests_total", "node_cpu_seconds_total"} <= documented


def test_the_rollback_queries_are_the_triggers(cfg: Config) -> None:
    blocks, _ = split(ROOT / "docs" / "rollbacks.md")
    shown = [b.body.strip() for b in blocks if b.lang == "promql"]
    api = next(s for s in cfg.services if s.name == "api-service")
    built = trigger_queries(cfg, api)
    assert shown == [built.error_ratio, built.latency_p95, built.traffic]
