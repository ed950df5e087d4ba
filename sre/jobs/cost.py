"""AWS cost analysis (the ``cost`` section): Cost Explorer -> checks -> metrics -> notices.

On its cron schedule (job ``cost.daily``) and once at start, the job asks Cost Explorer
for daily unblended cost by SERVICE over the whole days from ``min(first of the month,
yesterday - lookback_days)`` to today (exclusive), plus the month's forecast. Cost
Explorer bills every request and refreshes its data only ~3 times a day, so answers are
cached in the state store for ``cost.refresh_every`` (a restart re-uses them) and every
request is counted in ``sre_aws_cost_api_requests_total``.

Days AWS flags ``Estimated`` are used but labelled (``estimated`` in logs and notices).
The daily metrics are for yesterday, the newest whole day. Anomalies (median/MAD, see
``sre.checks.cost``) and budget breaches are announced once per day each through
``ctx.notices`` (keys ``cost.anomaly:<day>:<service>``, ``cost.budget:<day>:<period>``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from sre.checks.cost import (
    Anomaly,
    Breach,
    DailyCost,
    budget_breaches,
    find_anomalies,
    month_to_date,
    run_rate_forecast,
    top_changes,
)
from sre.clients import ClientError
from sre.clients.aws import AwsClient
from sre.config import CostConfig
from sre.daemon.feature import Feature, FeatureContext
from sre.daemon.metrics import catalog_metric
from sre.jobs.aws_common import aws_client
from sre.jobs.base import JobSpec
from sre.notify.notices import Notice

log = logging.getLogger(__name__)

SOURCES = {"cost_explorer": "forecast by Cost Explorer", "run_rate": "forecast from the run-rate"}


@dataclass(frozen=True)
class Report:
    """What one run found; everything the metrics and notices are made from."""

    day: date  # yesterday, the day judged
    estimated: bool  # some of ``day``'s figures are still estimates
    by_service: dict[str, float]
    month_to_date_usd: float
    forecast_usd: float
    forecast_source: str  # cost_explorer | run_rate
    anomalies: list[Anomaly]
    breaches: list[Breach]
    changes: list[tuple[str, float, float]]

    @property
    def total_usd(self) -> float:
        return sum(self.by_service.values())


def build(ctx: FeatureContext) -> Feature | None:
    if ctx.config.cost is None or ctx.config.aws is None:
        return None
    return CostFeature(ctx, ctx.config.cost)


class CostFeature(Feature):
    name = "cost"

    def __init__(
        self, ctx: FeatureContext, cfg: CostConfig, client: AwsClient | None = None
    ) -> None:
        self.ctx = ctx
        self.cfg = cfg
        registry = ctx.registry
        self.requests = catalog_metric(registry, "sre_aws_cost_api_requests_total")
        self.daily = catalog_metric(registry, "sre_aws_cost_daily_usd")
        self.mtd = catalog_metric(registry, "sre_aws_cost_month_to_date_usd")
        self.forecast = catalog_metric(registry, "sre_aws_cost_month_forecast_usd")
        self.budget = catalog_metric(registry, "sre_aws_cost_budget_usd")
        self.anomaly = catalog_metric(registry, "sre_aws_cost_anomaly")
        if cfg.daily_budget_usd is not None:
            self.budget.labels(period="daily").set(cfg.daily_budget_usd)
        if cfg.monthly_budget_usd is not None:
            self.budget.labels(period="monthly").set(cfg.monthly_budget_usd)
        if client is None:
            assert ctx.config.aws is not None
            client = aws_client(ctx.config.aws, ctx.metrics.aws_errors)
        client.on_request = self._counted(client.on_request)
        self.client = client

    def _counted(self, chained: Any) -> Any:
        def hook(service: str, operation: str) -> None:
            if service == "ce":
                self.requests.inc()
            if chained is not None:
                chained(service, operation)

        return hook

    def jobs(self) -> Sequence[JobSpec]:
        trigger = CronTrigger.from_crontab(self.cfg.schedule, timezone=UTC)
        return [JobSpec("cost.daily", self.run, trigger, run_at_start=True)]

    async def run(self) -> None:
        await self.check()

    async def check(self) -> Report | None:
        """One analysis; None when Cost Explorer could not be read (counted, logged)."""
        today = datetime.fromtimestamp(self.ctx.clock(), UTC).date()
        yesterday = today - timedelta(days=1)
        start = min(
            today.replace(day=1), yesterday - timedelta(days=self.cfg.anomaly.lookback_days)
        )
        try:
            costs = await self._usage(start, today)
        except ClientError as err:  # counted in sre_aws_errors_total by the client
            log.warning("cost: Cost Explorer unavailable (%s): %s", err.reason, err)
            return None
        mtd = month_to_date(costs, today)
        forecast, source = await self._forecast(today, mtd)
        report = self.analyse(costs, today, mtd, forecast, source)
        self.publish(report)
        self.announce(report)
        return report

    # ------------------------------------------------------------------ fetching (cached)

    async def _usage(self, start: date, end: date) -> list[DailyCost]:
        key = f"cost.usage:{start}:{end}"
        cached = self.ctx.store.cache_get(key)
        if cached is not None:
            log.debug("cost: using cached Cost Explorer results for %s..%s", start, end)
            return [DailyCost(date.fromisoformat(d), s, float(u), bool(e)) for d, s, u, e in cached]
        costs = [c for c in await self.client.cost_and_usage(start, end) if c.day < end]
        rows = [[c.day.isoformat(), c.service, c.usd, c.estimated] for c in costs]
        self.ctx.store.cache_put(key, rows, ttl=self.cfg.refresh_every.seconds)
        return costs

    async def _forecast(self, today: date, mtd: float) -> tuple[float, str]:
        """Month forecast: month to date + Cost Explorer's forecast for the rest, or else the
        month's run-rate (the emulator and young accounts have no forecast)."""
        end = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
        key = f"cost.forecast:{today}:{end}"
        cached = self.ctx.store.cache_get(key)
        if cached is None:
            try:
                cached = {"usd": await self.client.cost_forecast(today, end)}
            except ClientError as err:
                log.info("cost: no Cost Explorer forecast (%s), using the run-rate", err.reason)
                cached = {"unavailable": err.reason}
            self.ctx.store.cache_put(key, cached, ttl=self.cfg.refresh_every.seconds)
        if "usd" in cached:
            return mtd + float(cached["usd"]), "cost_explorer"
        return run_rate_forecast(mtd, today), "run_rate"

    # ------------------------------------------------------------------ deciding

    def analyse(
        self, costs: list[DailyCost], today: date, mtd: float, forecast: float, source: str
    ) -> Report:
        day = today - timedelta(days=1)
        anomaly = self.cfg.anomaly
        on_day = [c for c in costs if c.day == day]
        by_service: dict[str, float] = {}
        for cost in on_day:
            by_service[cost.service] = by_service.get(cost.service, 0.0) + cost.usd
        return Report(
            day=day,
            estimated=any(c.estimated for c in on_day),
            by_service=by_service,
            month_to_date_usd=mtd,
            forecast_usd=forecast,
            forecast_source=source,
            anomalies=find_anomalies(
                costs,
                day,
                lookback_days=anomaly.lookback_days,
                ratio=anomaly.ratio,
                min_increase_usd=anomaly.min_increase_usd,
                include_estimated=True,
            ),
            breaches=budget_breaches(
                day_total_usd=sum(by_service.values()) if on_day else None,
                forecast_usd=forecast,
                daily_budget_usd=self.cfg.daily_budget_usd,
                monthly_budget_usd=self.cfg.monthly_budget_usd,
            ),
            changes=top_changes(
                costs, day, lookback_days=anomaly.lookback_days, include_estimated=True
            ),
        )

    # ------------------------------------------------------------------ telling

    def publish(self, report: Report) -> None:
        self.daily.clear()
        self.anomaly.clear()
        anomalous = {a.service for a in report.anomalies}
        for service, usd in sorted(report.by_service.items()):
            self.daily.labels(service=service).set(usd)
            self.anomaly.labels(service=service).set(1 if service in anomalous else 0)
        self.mtd.set(report.month_to_date_usd)
        self.forecast.set(report.forecast_usd)
        log.info(
            "cost %s%s: $%.2f over %d service(s); month to date $%.2f, forecast $%.2f (%s); "
            "%d anomaly(ies), %d budget breach(es)",
            report.day,
            " (estimated)" if report.estimated else "",
            report.total_usd,
            len(report.by_service),
            report.month_to_date_usd,
            report.forecast_usd,
            report.forecast_source,
            len(report.anomalies),
            len(report.breaches),
        )

    def announce(self, report: Report) -> None:
        est = " (estimated)" if report.estimated else ""
        flag = "yes" if report.estimated else "no"
        changes = self._changes_text(report)
        for a in report.anomalies:
            times = f", x{a.usd / a.baseline_usd:.1f}" if a.baseline_usd > 0 else ""
            log.warning(
                "cost anomaly %s%s: %s $%.2f vs median $%.2f (+$%.2f)",
                a.day, est, a.service, a.usd, a.baseline_usd, a.increase_usd,
            )  # fmt: skip
            self.ctx.notices.notify(
                Notice(
                    key=f"cost.anomaly:{a.day}:{a.service}",
                    title=f"AWS cost anomaly: {a.service} on {a.day}{est}",
                    text=(
                        f"*{a.service}* cost *${a.usd:,.2f}* on {a.day}{est}, against a median "
                        f"of ${a.baseline_usd:,.2f} over the previous "
                        f"{self.cfg.anomaly.lookback_days} days (+${a.increase_usd:,.2f}"
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
        for b in report.breaches:
            what = "daily cost" if b.period == "daily" else "month forecast"
            log.warning(
                "cost budget breach %s%s: %s $%.2f over the %s budget $%.2f",
                report.day, est, what, b.usd, b.period, b.budget_usd,
            )  # fmt: skip
            self.ctx.notices.notify(
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

    def _changes_text(self, report: Report) -> str:
        if not report.changes:
            return "No per-service figures for that day."
        lines = [
            f"• {service}: ${usd:,.2f} ({'+' if change >= 0 else '-'}${abs(change):,.2f})"
            for service, usd, change in report.changes
        ]
        days = self.cfg.anomaly.lookback_days
        return f"Top changes on {report.day} vs the {days}-day median:\n" + "\n".join(lines)
