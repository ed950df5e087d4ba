"""Prometheus' storageRetention against the longest window the rules read."""

from __future__ import annotations

import pytest

from sre.checks.retention import judge_retention, parse_retention
from sre.config.durations import Duration

DAY = 86400.0
MONTH = Duration.parse("30d")


@pytest.mark.parametrize(
    ("text", "seconds", "size"),
    [
        ("15d", 15 * DAY, None),  # Prometheus' default
        ("30d", 30 * DAY, None),
        ("1y", 365 * DAY, None),
        ("2w3d", 17 * DAY, None),
        ("1d12h", 1.5 * DAY, None),
        ("10d or 10GiB", 10 * DAY, "10GiB"),
        ("1GiB", None, "1GiB"),
        ("512MB", None, "512MB"),
        ("90d or 1.5TiB", 90 * DAY, "1.5TiB"),
    ],
)
def test_what_prometheus_writes_is_read(text: str, seconds: float | None, size: str | None) -> None:
    retention = parse_retention(text)
    assert (retention.time_seconds, retention.size) == (seconds, size)


@pytest.mark.parametrize("text", ["", None, 15, "forever", "10d or 10d", "10 d", "10GiB or"])
def test_what_cannot_be_read_says_so(text: object) -> None:
    with pytest.raises(ValueError, match="storageRetention"):
        parse_retention(text)


def test_shorter_than_the_rules_read_fails_naming_both_figures() -> None:
    verdict = judge_retention(parse_retention("15d"), MONTH)
    assert verdict.outcome == "fail"
    assert "keeps 15d of history" in verdict.reason and "read up to 30d" in verdict.reason
    assert judge_retention(parse_retention("29d23h"), MONTH).outcome == "fail"
    assert judge_retention(parse_retention("10d or 100GiB"), MONTH).outcome == "fail"


def test_enough_passes_and_mentions_a_size_limit() -> None:
    assert judge_retention(parse_retention("30d"), MONTH).outcome == "pass"
    verdict = judge_retention(parse_retention("1y or 50GiB"), MONTH)
    assert verdict.outcome == "pass" and "50GiB may delete data sooner" in verdict.reason


def test_a_size_limit_alone_or_no_window_is_not_judged_as_short() -> None:
    verdict = judge_retention(parse_retention("10GiB"), MONTH)
    assert verdict.outcome == "no_verdict" and "size only (10GiB)" in verdict.reason
    assert judge_retention(parse_retention("1h"), Duration(0)).outcome == "pass"
