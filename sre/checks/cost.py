"""Pure cost decisions: anomalies per service, budget breaches, month forecast.

Method (documented in docs/cost.md): for each service, the baseline is the **median** of its
complete days in the lookback window before the day judged, and its spread is the **MAD**
(median absolute deviation, scaled by 1.4826 so it estimates a standard deviation for normal
data). A day is anomalous when all three hold:

1. ``cost >= ratio × baseline``              (the configured relative jump),
2. ``cost - baseline >= min_increase_usd``   (the configured absolute jump),
3. ``cost - baseline > 3 × scaled MAD``      (it stands out from the service's own noise).

Cost Explorer leaves a service out of a day it had no usage on, so such a day counts as
$0 in the baseline of every service seen in the window (a service billed $100 on 2 of 14
days has a baseline of $0, not $100). Only days Cost Explorer answered for (days present
for any service) are filled; a day missing for every service is not known to be zero.

Median and MAD ignore the odd spike in the history itself, where mean and standard
deviation would be dragged up by it and hide the next one. Estimated (partial) days are
never judged and never part of a baseline, unless the caller passes
``include_estimated=True``: the cost job does, because it only ever asks for whole days
(the end of its window is today, exclusive) and AWS keeps flagging such days
``Estimated`` while late usage records arrive; it labels what it finds as estimated.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median

MAD_SCALE = 1.4826
MAD_K = 3.0


@dataclass(frozen=True)
class DailyCost:
    day: date
    service: str
    usd: float
    estimated: bool = False


@dataclass(frozen=True)
class Anomaly:
    service: str
    day: date
    usd: float
    baseline_usd: float
    mad_usd: float

    @property
    def increase_usd(self) -> float:
        return self.usd - self.baseline_usd


@dataclass(frozen=True)
class Breach:
    period: str  # "daily" | "monthly"
    usd: float
    budget_usd: float


def robust_baseline(history: Sequence[float]) -> tuple[float, float]:
    """Median and scaled MAD of ``history`` (both 0.0 for an empty history)."""
    if not history:
        return 0.0, 0.0
    middle = median(history)
    mad = median(abs(x - middle) for x in history)
    return middle, mad * MAD_SCALE


def find_anomalies(
    costs: Iterable[DailyCost],
    day: date,
    *,
    lookback_days: int,
    ratio: float,
    min_increase_usd: float,
    include_estimated: bool = False,
) -> list[Anomaly]:
    """Services whose cost on ``day`` is anomalous, largest increase first."""
    costs = list(costs)
    history = _window_history(costs, day, lookback_days, include_estimated)
    today: dict[str, DailyCost] = {}
    for cost in costs:
        if cost.day == day and (include_estimated or not cost.estimated):
            today[cost.service] = cost
    found = []
    for service, cost in today.items():
        baseline, mad = robust_baseline(history.get(service, []))
        increase = cost.usd - baseline
        if cost.usd >= ratio * baseline and increase >= min_increase_usd and increase > MAD_K * mad:
            found.append(Anomaly(service, day, cost.usd, baseline, mad))
    return sorted(found, key=lambda a: (-a.increase_usd, a.service))


def _window_history(
    costs: Iterable[DailyCost], day: date, lookback_days: int, include_estimated: bool
) -> dict[str, list[float]]:
    """Each service's daily cost over the window before ``day``, absent days as 0.0."""
    window_start = day - timedelta(days=lookback_days)
    per_day: dict[str, dict[date, float]] = {}
    days: set[date] = set()
    for cost in costs:
        if (cost.estimated and not include_estimated) or not window_start <= cost.day < day:
            continue
        days.add(cost.day)
        service = per_day.setdefault(cost.service, {})
        service[cost.day] = service.get(cost.day, 0.0) + cost.usd
    return {
        service: [by_day.get(d, 0.0) for d in sorted(days)] for service, by_day in per_day.items()
    }


def month_to_date(costs: Iterable[DailyCost], today: date) -> float:
    """Cost of this month's days before ``today`` (estimated days included)."""
    first = today.replace(day=1)
    return sum(c.usd for c in costs if first <= c.day < today)


def run_rate_forecast(month_to_date_usd: float, today: date) -> float:
    """Month forecast from the run-rate of the days elapsed so far (today excluded)."""
    days_in_month = calendar.monthrange(today.year, today.month)[1]
    elapsed = today.day - 1
    if elapsed == 0:
        return month_to_date_usd
    return month_to_date_usd / elapsed * days_in_month


def budget_breaches(
    *,
    day_total_usd: float | None,
    forecast_usd: float | None,
    daily_budget_usd: float | None,
    monthly_budget_usd: float | None,
) -> list[Breach]:
    breaches = []
    if day_total_usd is not None and daily_budget_usd is not None:
        if day_total_usd > daily_budget_usd:
            breaches.append(Breach("daily", day_total_usd, daily_budget_usd))
    if forecast_usd is not None and monthly_budget_usd is not None:
        if forecast_usd > monthly_budget_usd:
            breaches.append(Breach("monthly", forecast_usd, monthly_budget_usd))
    return breaches


def top_changes(
    costs: Iterable[DailyCost],
    day: date,
    *,
    lookback_days: int,
    limit: int = 5,
    include_estimated: bool = False,
) -> list[tuple[str, float, float]]:
    """``(service, cost on day, change vs median baseline)`` for the biggest movers."""
    costs = list(costs)
    history = _window_history(costs, day, lookback_days, include_estimated)
    on_day: dict[str, float] = {}
    for cost in costs:
        on_day.setdefault(cost.service, 0.0)
        if cost.day == day:
            on_day[cost.service] += cost.usd
    rows = []
    for service, usd in on_day.items():
        baseline, _ = robust_baseline(history.get(service, []))
        rows.append((service, usd, usd - baseline))
    return sorted(rows, key=lambda r: (-abs(r[2]), r[0]))[:limit]
