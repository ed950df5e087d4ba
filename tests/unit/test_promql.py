"""The PromQL building blocks every rule, dashboard and trigger shares (``sre.promql``)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sre import promql
from sre.config.durations import Duration


def test_selectors_drop_empty_matchers() -> None:
    assert promql.sel('job="a"', "", " ", 'code=~"5.."') == '{job="a", code=~"5.."}'
    assert promql.sel("", "") == ""
    assert promql.matchers("", 'job="a"', 'service="x"') == 'job="a", service="x"'
    assert promql.metric("up", 'job="a"') == 'up{job="a"}'


def test_one_of_and_regex_of_escape_and_sort() -> None:
    assert promql.one_of("service", ["b"]) == 'service="b"'
    assert promql.one_of("service", ["b", "a.x", "b"]) == 'service=~"a\\\\.x|b"'
    assert promql.regex_of(["b"]) == "b"
    assert promql.regex_of(["b", "a"]) == "(a|b)"
    with pytest.raises(ValueError, match="no values"):
        promql.one_of("service", [])


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.05, "0.05"), (600.0, "600"), (Decimal("0.0010"), "0.001"), (3, "3"), (1e-05, "0.00001")],
)
def test_numbers_are_exact(value: float, text: str) -> None:
    assert promql.num(value) == text


def test_durations() -> None:
    assert promql.duration(Duration.parse("5m")) == "5m"
    assert promql.duration(90) == "90s"
    assert promql.seconds(Duration.parse("1h30m")) == "5400"


def test_error_ratio_counts_a_service_without_errors_as_zero() -> None:
    expr = promql.error_ratio('job="a"', "5m")
    assert "or\n  0 * sum by (service)" in expr
    assert 'rate(http_requests_total{job="a", code=~"5.."}[5m])' in expr
    assert promql.request_rate("", "1m", by="service, code") == (
        "sum by (service, code) (rate(http_requests_total[1m]))"
    )
    assert promql.latency_quantile("0.95", 'job="a"', "5m").startswith(
        "histogram_quantile(0.95, sum by (service, le) (rate(http_request_duration_seconds_bucket"
    )
