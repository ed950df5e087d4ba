"""The route-test example in docs/alerting-pipeline.md is valid sre.yaml and holds."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from rules import all_groups
from sre.config import load_config, parse_config
from sre.render import alertmanager

ROOT = Path(__file__).resolve().parents[2]


def test_the_documented_route_tests_load_and_hold() -> None:
    page = (ROOT / "docs" / "alerting-pipeline.md").read_text()
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", page, re.S) if "route_tests" in b)
    tests = yaml.safe_load(block)["route_tests"]
    data = yaml.safe_load((ROOT / "sre.yaml").read_text())
    data["alertmanager"]["route_tests"] = tests
    cfg = parse_config(data)
    assert cfg.alertmanager is not None and len(cfg.alertmanager.route_tests) == 2
    alerts = {a.alert for g in all_groups(cfg) for a in g.alerts}
    tree = alertmanager.config(cfg, alerts)["route"]
    for test in cfg.alertmanager.route_tests:
        got = alertmanager.receivers_for(tree, test.labels)
        assert sorted(got) == sorted(test.receivers), test.name


def test_the_default_config_routes_as_the_platform_does() -> None:
    cfg = load_config(ROOT / "sre.yaml")
    alerts = {a.alert for g in all_groups(cfg) for a in g.alerts}
    tree = alertmanager.config(cfg, alerts)["route"]
    prod = {"severity": "critical", "environment": "production", "alertname": "X"}
    assert sorted(alertmanager.receivers_for(tree, prod)) == ["pagerduty", "slack"]
    warning = {"severity": "warning", "environment": "production", "alertname": "X"}
    assert sorted(alertmanager.receivers_for(tree, warning)) == ["dev-email", "slack"]
    assert alertmanager.receivers_for(tree, {**prod, "environment": "staging"}) == ("slack",)
