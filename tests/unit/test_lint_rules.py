"""Broken rules: each gets its specific message naming file, group and alert."""

from __future__ import annotations

import dataclasses

from sre.render.lint_rules import known_daemon_metric
from tests.unit.test_render_fixtures import RECORD, alert, dashboard, group, lint_all, panel, record

WHERE = 'rules/demo.yaml group "demo.rules" alert DemoServiceDown'


def test_missing_severity() -> None:
    problems = lint_all(groups=[group(record(), alert(severity=""))])
    assert problems == [f"[alerts] {WHERE}: severity is ''; must be one of critical, warning, info"]


def test_unknown_severity() -> None:
    problems = lint_all(groups=[group(record(), alert(severity="page"))])
    assert problems == [
        f"[alerts] {WHERE}: severity is 'page'; must be one of critical, warning, info"
    ]


def test_missing_annotations_each_named() -> None:
    bad = alert(summary="", description=" ", runbook_url="")
    assert lint_all(groups=[group(record(), bad)]) == [
        f"[alerts] {WHERE}: has no summary annotation",
        f"[alerts] {WHERE}: has no description annotation",
        f"[alerts] {WHERE}: has no runbook_url annotation",
    ]


def test_templated_summary_and_foreign_runbook_url() -> None:
    bad = alert(summary="{{ $labels.service }} is down", runbook_url="https://x/Other.md")
    assert lint_all(groups=[group(record(), bad)]) == [
        f"[alerts] {WHERE}: summary must be static text; templates go in description",
        f"[alerts] {WHERE}: runbook_url 'https://x/Other.md' does not point at DemoServiceDown.md",
    ]


def test_missing_runbook_file() -> None:
    other = alert("DemoServiceSlow")
    problems = lint_all(groups=[group(record(), alert(), other)])
    assert problems == [
        '[runbooks] rules/demo.yaml group "demo.rules" alert DemoServiceSlow: '
        "runbooks/DemoServiceSlow.md is missing"
    ]


def test_missing_runbook_is_reported_once_per_alert_name() -> None:
    pair = (alert("DemoBurn", severity="critical"), alert("DemoBurn", severity="warning"))
    problems = lint_all(groups=[group(record(), *pair)])
    assert [p for p in problems if p.startswith("[runbooks]")] == [
        '[runbooks] rules/demo.yaml group "demo.rules" alert DemoBurn: '
        "runbooks/DemoBurn.md is missing"
    ]


def test_environment_label_missing_or_wrong() -> None:
    assert lint_all(groups=[group(record(), alert(labels={}))]) == [
        f"[alerts] {WHERE}: has no environment label"
    ]
    assert lint_all(groups=[group(record(), alert(labels={"environment": "staging"}))]) == [
        f"[alerts] {WHERE}: label environment='staging', but sre.yaml says environment: production"
    ]


def test_unknown_recording_rule_in_an_alert() -> None:
    bad = alert(expr="service:http_requests:rate1m == 0")
    assert lint_all(groups=[group(record(), bad)]) == [
        f"[recording-rules] {WHERE}: uses recording rule service:http_requests:rate1m, "
        "which no group defines"
    ]


def test_unknown_recording_rule_in_a_dashboard() -> None:
    board = dashboard(
        panels=[panel(1, expr='sum(service:http_request:rate5m{service="$service"})')]
    )
    assert lint_all([board]) == [
        '[recording-rules] dashboard demo-overview panel 1 "Panel 1" target A: '
        "uses recording rule service:http_request:rate5m, which no group defines"
    ]


def test_recording_rules_defined_in_another_group_count() -> None:
    records = group(record(), name="demo.records", file="records")
    alerts = group(alert(), name="demo.alerts")
    assert lint_all(groups=[records, alerts]) == []


def test_naming_conventions() -> None:
    bad_alert = alert("demo_service_down", runbook_url="https://x/demo_service_down.md")
    bad_record = record("http_requests_rate5m")
    problems = lint_all(groups=[group(record(), bad_record, bad_alert)])
    assert (
        '[naming] rules/demo.yaml group "demo.rules" record http_requests_rate5m: recording '
        "rules are named level:metric:operations (e.g. service:http_requests:rate5m)"
    ) in problems
    assert (
        '[naming] rules/demo.yaml group "demo.rules" alert demo_service_down: alert names '
        "are CamelCase, e.g. ApiServiceDown"
    ) in problems


def test_daemon_metric_typo_in_rule_and_dashboard() -> None:
    bad = alert(expr='increase(sre_job_run_total{outcome="failure"}[15m]) > 0')
    board = dashboard(panels=[panel(1, expr="max(sre_probe_sucess)")])
    problems = lint_all([board], [group(record(), bad)])
    assert problems == [
        f"[naming] {WHERE}: uses sre_job_run_total, which is not a daemon metric "
        "(sre.catalog.DAEMON_METRICS)",
        '[naming] dashboard demo-overview panel 1 "Panel 1" target A: uses sre_probe_sucess, '
        "which is not a daemon metric (sre.catalog.DAEMON_METRICS)",
    ]


def test_daemon_histogram_series_are_known() -> None:
    assert known_daemon_metric("sre_job_runs_total")
    assert known_daemon_metric("sre_job_duration_seconds_bucket")
    assert known_daemon_metric("sre_job_duration_seconds_count")
    assert not known_daemon_metric("sre_probe_success_bucket")  # a gauge has no buckets
    assert not known_daemon_metric("sre_jobs_runs_total")


def test_label_names_and_strings_are_not_metrics() -> None:
    # "sre_x" as a label value / name in by() must not be taken for a metric.
    expr = f'sum by (sre_team) ({RECORD}{{team="sre_oncall"}}) > 0'
    assert lint_all(groups=[group(record(), alert(expr=expr))]) == []


def test_every_problem_of_an_alert_at_once() -> None:
    bad = dataclasses.replace(
        alert("DemoServiceSlow"), severity="", summary="", expr="service:nope:rate5m > 1"
    )
    problems = lint_all(groups=[group(record(), bad)])
    checks = sorted({p.split("]")[0] + "]" for p in problems})
    assert checks == ["[alerts]", "[recording-rules]", "[runbooks]"]
    assert len(problems) == 4
