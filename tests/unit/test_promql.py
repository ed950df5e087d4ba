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


def test_either_is_a_balanced_tree_of_or() -> None:
    assert promql.either(["a"]) == "a"
    assert promql.either(["a", "b", "c", "d"]) == "((a\nor b)\nor (c\nor d))"
    deep = promql.either([f"t{i}" for i in range(512)])
    assert deep.count("(") == 511 and max(_depths(deep)) == 9
    with pytest.raises(ValueError, match="no terms"):
        promql.either([])


def _depths(text: str) -> list[int]:
    depth, out = 0, []
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        out.append(depth)
    return out


def test_per_service_names_the_fewest_services() -> None:
    names = [f"s{i}" for i in range(10)]
    # Most services share a value: the others are named, the rest selected by exclusion.
    values = {n: "0.05" for n in names} | {"s3": "0.02"}
    assert promql.per_service("t", names, values) == (
        '(0.05 * t{service!="s3"}\nor 0.02 * t{service="s3"})'
    )
    assert promql.per_service("t", names, {n: "1" for n in names}) == "1 * t"
    # Few services have a value at all: naming them is shorter than excluding the rest.
    assert promql.per_service("t", names, {"s1": "2", "s2": "2", "s5": "3"}) == (
        '(2 * t{service=~"s1|s2"}\nor 3 * t{service="s5"})'
    )
    assert promql.per_service("t", names, {}) is None
    assert promql.none_of("service", ["b", "a"]) == 'service!~"a|b"'
