"""Cost anomaly detection (median/MAD), budget breaches and the run-rate forecast."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sre.checks.cost import (
    DailyCost,
    budget_breaches,
    find_anomalies,
    month_to_date,
    robust_baseline,
    run_rate_forecast,
    top_changes,
)

DAY = date(2026, 11, 25)


def fortnight(service: str, values: list[float]) -> list[DailyCost]:
    """``values`` oldest first, ending the day before ``DAY``."""
    start = DAY - timedelta(days=len(values))
    return [DailyCost(start + timedelta(days=i), service, v) for i, v in enumerate(values)]


def judge(costs: list[DailyCost]) -> list[str]:
    found = find_anomalies(costs, DAY, lookback_days=14, ratio=1.5, min_increase_usd=50)
    return [a.service for a in found]


def test_normal_fortnight_has_no_anomaly() -> None:
    costs = fortnight("EC2", [100, 104, 98, 101, 99, 103, 97] * 2)
    costs.append(DailyCost(DAY, "EC2", 108))
    assert judge(costs) == []


def test_spike_is_anomalous_with_its_baseline() -> None:
    costs = fortnight("EC2", [100, 104, 98, 101, 99, 103, 97] * 2)
    costs += fortnight("S3", [20.0] * 14)
    costs += [DailyCost(DAY, "EC2", 400), DailyCost(DAY, "S3", 21)]
    found = find_anomalies(costs, DAY, lookback_days=14, ratio=1.5, min_increase_usd=50)
    assert [a.service for a in found] == ["EC2"]
    assert found[0].baseline_usd == 100.0
    assert found[0].increase_usd == 300.0


def test_small_absolute_jump_is_not_anomalous() -> None:
    # x3 but only +$40: below min_increase_usd.
    costs = fortnight("Lambda", [20.0] * 14) + [DailyCost(DAY, "Lambda", 60)]
    assert judge(costs) == []


def test_noisy_service_needs_to_stand_out_from_its_own_spread() -> None:
    # Baseline median 150 with a wide MAD: 240 is x1.6 and +90 but within 3 MADs.
    noisy = [60, 250, 90, 220, 150, 40, 260, 150, 70, 240, 150, 200, 100, 150]
    costs = fortnight("EMR", [float(v) for v in noisy]) + [DailyCost(DAY, "EMR", 240)]
    assert judge(costs) == []


def test_one_old_spike_does_not_hide_the_next() -> None:
    values = [100.0] * 14
    values[3] = 900.0  # a mean would be ~157 and hide a 220 day; the median stays 100
    costs = fortnight("RDS", values) + [DailyCost(DAY, "RDS", 220)]
    assert judge(costs) == ["RDS"]


def test_estimated_days_are_neither_judged_nor_baseline() -> None:
    costs = fortnight("EC2", [100.0] * 14) + [DailyCost(DAY, "EC2", 900, estimated=True)]
    assert judge(costs) == []


def test_new_service_with_no_history() -> None:
    assert judge([DailyCost(DAY, "Bedrock", 75)]) == ["Bedrock"]
    assert judge([DailyCost(DAY, "Bedrock", 30)]) == []


def test_budget_breaches() -> None:
    breaches = budget_breaches(
        day_total_usd=510, forecast_usd=12_500, daily_budget_usd=500, monthly_budget_usd=12_000
    )
    assert [(b.period, b.usd, b.budget_usd) for b in breaches] == [
        ("daily", 510, 500),
        ("monthly", 12_500, 12_000),
    ]
    assert (
        budget_breaches(
            day_total_usd=500, forecast_usd=None, daily_budget_usd=500, monthly_budget_usd=12_000
        )
        == []
    )


def test_month_to_date_and_run_rate_forecast() -> None:
    today = date(2026, 11, 11)  # ten full days elapsed, 30-day month
    costs = [DailyCost(date(2026, 11, d), "EC2", 40.0) for d in range(1, 12)]
    costs.append(DailyCost(date(2026, 10, 31), "EC2", 999.0))
    mtd = month_to_date(costs, today)
    assert mtd == pytest.approx(400.0)
    assert run_rate_forecast(mtd, today) == pytest.approx(1200.0)
    assert run_rate_forecast(0.0, date(2026, 11, 1)) == 0.0


def test_top_changes_names_the_biggest_movers() -> None:
    costs = fortnight("EC2", [100.0] * 14) + fortnight("S3", [10.0] * 14)
    costs += [DailyCost(DAY, "EC2", 300), DailyCost(DAY, "S3", 5)]
    assert top_changes(costs, DAY, lookback_days=14) == [("EC2", 300, 200), ("S3", 5, -5)]


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), max_size=40))
def test_baseline_is_robust_and_bounded(values: list[float]) -> None:
    middle, mad = robust_baseline(values)
    assert mad >= 0
    if values:
        assert min(values) <= middle <= max(values)


def test_days_without_usage_count_as_zero_in_the_baseline() -> None:
    # Cost Explorer omits Athena on the 12 days it was not used; S3 shows every day exists.
    athena = [100.0 if i in (3, 9) else None for i in range(14)]
    costs = [c for c in fortnight("Athena", [v or 0.0 for v in athena]) if c.usd]
    costs += fortnight("S3", [20.0] * 14)
    costs += [DailyCost(DAY, "Athena", 140), DailyCost(DAY, "S3", 20)]
    found = find_anomalies(costs, DAY, lookback_days=14, ratio=1.5, min_increase_usd=50)
    assert [(a.service, a.baseline_usd) for a in found] == [("Athena", 0.0)]
    rows = top_changes(costs, DAY, lookback_days=14)
    assert rows[0] == ("Athena", 140.0, 140.0)


def test_days_missing_for_every_service_are_not_zero_filled() -> None:
    # Only three days came back at all (a new account): Athena used on two of them.
    start = DAY - timedelta(days=3)
    costs = [
        DailyCost(start, "Athena", 100.0),
        DailyCost(start + timedelta(days=1), "Athena", 100.0),
        DailyCost(start + timedelta(days=2), "S3", 20.0),
        DailyCost(DAY, "Athena", 140.0),
    ]
    found = find_anomalies(costs, DAY, lookback_days=14, ratio=1.5, min_increase_usd=50)
    assert found == []  # baseline median(100, 100, 0) = 100: x1.4 is below the ratio
    assert top_changes(costs, DAY, lookback_days=14)[0] == ("Athena", 140.0, 40.0)
