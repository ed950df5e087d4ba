"""What the cost feature tells people: anomalies and budget breaches, once per day each.

Pure functions from a :class:`sre.features.cost.feature.Report` to notices; the keys make
them idempotent (``cost.anomaly:<day>:<service>``, ``cost.budget:<day>:<period>``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sre.runtime.notices import Notice

if TYPE_CHECKING:
    from sre.features.cost.feature import Report

SOURCES = {"cost_explorer": "forecast by Cost Explorer", "run_rate": "forecast from the run-rate"}


def changes_text(report: Report, lookback_days: int) -> str:
    if not report.changes:
        return "No per-service figures for that day."
    lines = [
        f"• {service}: ${usd:,.2f} ({'+' if change >= 0 else '-'}${abs(change):,.2f})"
        for service, usd, change in report.changes
    ]
    return f"Top changes on {report.day} vs the {lookback_days}-day median:\n" + "\n".join(lines)


def anomaly_notices(report: Report, lookback_days: int) -> list[Notice]:
    est = " (estimated)" if report.estimated else ""
    flag = "yes" if report.estimated else "no"
    changes = changes_text(report, lookback_days)
    out = []
    for a in report.anomalies:
        times = f", x{a.usd / a.baseline_usd:.1f}" if a.baseline_usd > 0 else ""
        out.append(
            Notice(
                key=f"cost.anomaly:{a.day}:{a.service}",
                title=f"AWS cost anomaly: {a.service} on {a.day}{est}",
                text=(
                    f"*{a.service}* cost *${a.usd:,.2f}* on {a.day}{est}, against a median "
                    f"of ${a.baseline_usd:,.2f} over the previous "
                    f"{lookback_days} days (+${a.increase_usd:,.2f}"
                    f"{times}).\n{changes}"
                ),
                severity="warning",
                source="cost",
                fields={
                    "service": a.service,
                    "day": a.day.isoformat(),
                    "cost": f"${a.usd:,.2f}",
                    "change": f"+${a.increase_usd:,.2f}",
                    "estimated": flag,
                },
                labels={"service": a.service},
            )
        )
    return out


def budget_notices(report: Report, lookback_days: int) -> list[Notice]:
    est = " (estimated)" if report.estimated else ""
    flag = "yes" if report.estimated else "no"
    changes = changes_text(report, lookback_days)
    out = []
    for b in report.breaches:
        what = "daily cost" if b.period == "daily" else "month forecast"
        out.append(
            Notice(
                key=f"cost.budget:{report.day}:{b.period}",
                title=f"AWS {what} over the {b.period} budget{est}",
                text=(
                    f"The AWS {what} is *${b.usd:,.2f}*, over the {b.period} budget of "
                    f"${b.budget_usd:,.2f} (as of {report.day}{est}"
                    + (f", {SOURCES[report.forecast_source]}" if b.period == "monthly" else "")
                    + f").\n{changes}"
                ),
                severity="warning",
                source="cost",
                fields={
                    "period": b.period,
                    "cost": f"${b.usd:,.2f}",
                    "budget": f"${b.budget_usd:,.2f}",
                    "estimated": flag,
                },
            )
        )
    return out
