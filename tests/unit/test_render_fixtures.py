"""Small, valid dashboards / rule groups / config for the render tests, built to be broken.

Each test starts from these (which pass every check, as the tests below prove) and breaks
exactly one thing, so a problem found can only come from that one thing.
"""

from __future__ import annotations

import copy
from typing import Any

from sre.config import Config, parse_config
from sre.config.durations import Duration
from sre.model import Alert, Record, Rule, RuleGroup
from sre.render.lint import lint

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
RUNBOOK_BASE = "https://git.example.com/sre/-/blob/main/runbooks/"
RECORD = "service:http_requests:rate5m"


def config(**overrides: Any) -> Config:
    data: dict[str, Any] = {
        "system": "demo",
        "environment": "production",
        "prometheus": {"url": "http://prometheus:9090", "datasource_uid": "prometheus"},
        "runbooks": {"base_url": RUNBOOK_BASE},
        "grafana": {"url": "http://grafana:3000", "folder": "Demo"},
        "kubernetes": {
            "namespace": "observability",
            "rule_labels": {"release": "my-stack"},
            "dashboard_labels": {"grafana_dashboard": "1"},
        },
        "services": [{"name": "api", "namespace": "demo"}],
    }
    data.update(overrides)
    return parse_config(data, "test.yaml")


def panel(
    panel_id: int,
    x: int = 0,
    y: int = 0,
    w: int = 12,
    h: int = 8,
    *,
    expr: str = f'sum by (service) ({RECORD}{{service=~"$service"}})',
    kind: str = "timeseries",
    unit: str | None = "reqps",
    description: str = "Requests per second, per service.",
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": panel_id,
        "type": kind,
        "title": f"Panel {panel_id}",
        "description": description,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "datasource": dict(DATASOURCE),
        "fieldConfig": {"defaults": {}, "overrides": []},
        "targets": [{"refId": "A", "expr": expr, "datasource": dict(DATASOURCE)}],
    }
    if unit is not None:
        data["fieldConfig"]["defaults"]["unit"] = unit
    return data


def dashboard(
    uid: str = "demo-overview", panels: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    if panels is None:
        panels = [
            panel(1, 0, 0),
            panel(2, 12, 0, expr="sum(rate(http_requests_total[$__rate_interval]))"),
            {"id": 3, "type": "row", "title": "More", "gridPos": {"x": 0, "y": 8, "w": 24, "h": 1}},
            panel(4, 0, 9, w=24, expr="up", unit="none"),
        ]
    return {
        "uid": uid,
        "title": f"Demo {uid}",
        "schemaVersion": 39,
        "panels": panels,
        "templating": {
            "list": [
                {
                    "name": "service",
                    "type": "query",
                    "datasource": dict(DATASOURCE),
                    "query": {"query": 'label_values(up{job=~"a|b"}, service)', "refId": "v"},
                    "current": {"text": "api", "value": "api"},
                }
            ]
        },
    }


def alert(name: str = "DemoServiceDown", **overrides: Any) -> Alert:
    fields: dict[str, Any] = {
        "alert": name,
        "expr": f"{RECORD} == 0",
        "severity": "critical",
        "summary": "A service serves no requests",
        "description": "{{ $labels.service }} served no requests for 5 minutes.",
        "runbook_url": f"{RUNBOOK_BASE}{name}.md",
        "for_": Duration.parse("5m"),
        "labels": {"environment": "production"},
    }
    fields.update(overrides)
    return Alert(**fields)


def record(
    name: str = RECORD, expr: str = "sum by (service) (rate(http_requests_total[5m]))"
) -> Record:
    return Record(record=name, expr=expr)


def group(*rules: Rule, name: str = "demo.rules", file: str = "demo") -> RuleGroup:
    return RuleGroup(name=name, file=file, rules=rules or (record(), alert()))


RUNBOOKS = frozenset({"DemoServiceDown.md"})


def lint_all(
    dashboards: list[dict[str, Any]] | None = None, groups: list[RuleGroup] | None = None
) -> list[str]:
    """Lint and return the problems as text lines (what the user sees)."""
    problems = lint(
        dashboards if dashboards is not None else [dashboard()],
        groups if groups is not None else [group()],
        environment="production",
        runbooks=RUNBOOKS,
        datasource_uid="prometheus",
    )
    return [str(p) for p in problems]


def broken(data: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(data)


def test_fixtures_pass_every_check() -> None:
    assert lint_all() == []


def test_fixture_config_is_valid() -> None:
    cfg = config()
    assert cfg.kubernetes.namespace == "observability"
    assert cfg.kubernetes.rule_labels == {"release": "my-stack"}
