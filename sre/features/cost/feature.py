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
the notifier (``notices.py``: keys ``cost.anomaly:<day>:<service>``,
``cost.budget:<day>:<period>``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger
from prometheus_client import CollectorRegistry

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
from sre.clients.aws import AwsClient, RequestHook
from sre.config import CostConfig
from sre.features.cost.metrics import CostMetrics
from sre.features.cost.notices import anomaly_notices, budget_notices
from sre.features.cost.state import CostCache
from sre.runtime.feature import Feature
from sre.runtime.jobs import JobSpec
from sre.runtime.notices import Notifier
from sre.runtime.store import Store

log = logging.getLogger(__name__)


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


class CostFeature(Feature):
    name = "cost"

    def __init__(
        self,
        cfg: CostConfig,
        client: AwsClient,
        *,
        store: Store,
        notices: Notifier,
        registry: CollectorRegistry,
        clock: Callable[[], float],
    ) -> None:
        self.cfg = cfg
        self.notices = notices
        self.clock = clock
        self.cache = CostCache(store, cfg.refresh_every.seconds)
        self.metrics = CostMetrics(registry)
        if cfg.daily_budget_usd is not None:
            self.metrics.budget.labels(period="daily").set(cfg.daily_budget_usd)
        if cfg.monthly_budget_usd is not None:
            self.metrics.budget.labels(period="monthly").set(cfg.monthly_budget_usd)
        client.on_request = self._counted(client.on_request)
        self.client = client

    def _counted(self, chained: RequestHook | None) -> RequestHook:
        def hook(service: str, operation: str) -> None:
            if service == "ce":
                self.metrics.requests.inc()
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
        today = datetime.fromtimestamp(self.clock(), UTC).date()
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
        await self.announce(report)
        return report

    # ------------------------------------------------------------------ fetching (cached)

    async def _usage(self, start: date, end: date) -> list[DailyCost]:
        cached = await self.cache.usage(start, end)
        if cached is not None:
            log.debug("cost: using cached Cost Explorer results for %s..%s", start, end)
            return cached
        costs = [c for c in await self.client.cost_and_usage(start, end) if c.day < end]
        await self.cache.put_usage(start, end, costs)
        return costs

    async def _forecast(self, today: date, mtd: float) -> tuple[float, str]:
        """Month forecast: month to date + Cost Explorer's forecast for the rest, or else the
        month's run-rate (the emulator and young accounts have no forecast)."""
        end = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
        cached = await self.cache.forecast(today, end)
        if cached is None:
            try:
                cached = {"usd": await self.client.cost_forecast(today, end)}
            except ClientError as err:
                log.info("cost: no Cost Explorer forecast (%s), using the run-rate", err.reason)
                cached = {"unavailable": err.reason}
            await self.cache.put_forecast(today, end, cached)
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
        m = self.metrics
        m.daily.clear()
        m.anomaly.clear()
        anomalous = {a.service for a in report.anomalies}
        for service, usd in sorted(report.by_service.items()):
            m.daily.labels(service=service).set(usd)
            m.anomaly.labels(service=service).set(1 if service in anomalous else 0)
        m.mtd.set(report.month_to_date_usd)
        m.forecast.set(report.forecast_usd)
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

    async def announce(self, report: Report) -> None:
        est = " (estimated)" if report.estimated else ""
        for a in report.anomalies:
            log.warning(
                "cost anomaly %s%s: %s $%.2f vs median $%.2f (+$%.2f)",
                a.day, est, a.service, a.usd, a.baseline_usd, a.increase_usd,
            )  # fmt: skip
        for b in report.breaches:
            what = "daily cost" if b.period == "daily" else "month forecast"
            log.warning(
                "cost budget breach %s%s: %s $%.2f over the %s budget $%.2f",
                report.day, est, what, b.usd, b.period, b.budget_usd,
            )  # fmt: skip
        days = self.cfg.anomaly.lookback_days
        for notice in anomaly_notices(report, days) + budget_notices(report, days):
            await self.notices.notify(notice)
