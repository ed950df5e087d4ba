"""Grafana variables, variable queries and metric names, as the lint reads PromQL."""

from __future__ import annotations

import pytest

from sre.render.dashboard_queries import (
    dashboard_queries,
    metric_names,
    substitute,
    variable_promql,
)
from tests.unit.test_render_fixtures import dashboard, panel


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('rate(x{service="$service"}[5m])', 'rate(x{service="value"}[5m])'),
        ('rate(x{service=~"${service:regex}"}[5m])', 'rate(x{service=~"value"}[5m])'),
        ('rate(x{service="[[service]]"}[5m])', 'rate(x{service="value"}[5m])'),
        ("rate(x[$__rate_interval])", "rate(x[1m])"),
        ("rate(x[${__interval}])", "rate(x[1m])"),
        ("increase(x[$__range])", "increase(x[1h])"),
        ("x / $__range_s", "x / 3600"),
        ("rate(x[$window])", "rate(x[1m])"),  # a user variable in a range -> a duration
        ("topk($n, x)", "topk(5, x)"),  # elsewhere -> its current value
        ('label_replace(x, "a", "$1", "b", "(.*)")', 'label_replace(x, "a", "$1", "b", "(.*)")'),
        ("rate(x[$typo])", "rate(x[$typo])"),  # unknown names stay, so the parse fails
        ('x{a="\\"$service"}', 'x{a="\\"value"}'),
    ],
)
def test_substitute(expr: str, expected: str) -> None:
    assert substitute(expr, {"service": "api", "window": "1m", "n": "5"}) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('label_values(up{job=~"a,b"}, instance)', 'up{job=~"a,b"}'),
        ("label_values(http_requests_total, service)", "http_requests_total"),
        ("label_values(service)", None),
        ("label_names()", None),
        ("metrics(http_.*)", None),
        ("query_result(topk(5, sum by (service) (x)))", "topk(5, sum by (service) (x))"),
        ("up == 1", "up == 1"),
    ],
)
def test_variable_promql(query: str, expected: str | None) -> None:
    assert variable_promql(query) == expected


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'sum by (service) (rate(http_requests_total{code=~"5.."}[5m])) '
            "/ on (service) group_left service:http_requests:rate5m",
            {"http_requests_total", "service:http_requests:rate5m"},
        ),
        ("histogram_quantile(0.95, sum without (pod) (rate(x_bucket[5m])))", {"x_bucket"}),
        ("max_over_time(foo[1h:5m]) offset 1d and bar > 1e3", {"foo", "bar"}),
        ('absent(sre_build_info{version="sre_fake"})', {"sre_build_info"}),
        ("sum(x) by (a) * on() group_right(b) y unless z # note: ignored_metric", {"x", "y", "z"}),
        ("vector(1) + scalar(time())", set()),
    ],
)
def test_metric_names(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_dashboard_queries_name_panel_target_and_variable() -> None:
    board = dashboard(panels=[panel(7, expr='rate(x{service="$service"}[$__rate_interval])')])
    queries = dashboard_queries(board)
    assert [(q.where, q.promql) for q in queries] == [
        ('dashboard demo-overview panel 7 "Panel 7" target A', 'rate(x{service="value"}[1m])'),
        ("dashboard demo-overview variable $service", 'up{job=~"a|b"}'),
    ]
    assert queries[0].expr == 'rate(x{service="$service"}[$__rate_interval])'


def test_nested_row_panels_and_string_variable_queries_are_found() -> None:
    row = {"id": 1, "type": "row", "collapsed": True, "panels": [panel(2, expr="up")]}
    board = dashboard(panels=[row])
    board["templating"]["list"].append(
        {"name": "job", "type": "query", "query": "label_values(job)"}
    )
    board["templating"]["list"].append({"name": "w", "type": "interval", "query": "1m,5m"})
    assert [q.promql for q in dashboard_queries(board)] == ["up", 'up{job=~"a|b"}']


def test_annotation_queries_are_checked_like_panel_queries() -> None:
    board = dashboard(panels=[])
    board["annotations"] = {
        "list": [
            {"name": "Deploys", "target": {"type": "tags", "tags": ["deploy"]}},
            {"name": "Rollbacks", "expr": 'increase(x{service=~"$service"}[$__rate_interval]) > 0'},
        ]
    }
    queries = dashboard_queries(board)
    assert queries[-1].where == "dashboard demo-overview annotation 'Rollbacks'"
    assert queries[-1].promql == 'increase(x{service=~"value"}[1m]) > 0'
    assert len(queries) == 2  # the variable and the annotation; the tag query has no PromQL
