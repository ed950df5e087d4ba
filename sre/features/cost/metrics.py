"""The cost feature's metrics (names and help from the catalogue)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from sre.runtime.metrics import catalog_metric


class CostMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests: Counter = catalog_metric(registry, "sre_aws_cost_api_requests_total")
        self.daily: Gauge = catalog_metric(registry, "sre_aws_cost_daily_usd")
        self.mtd: Gauge = catalog_metric(registry, "sre_aws_cost_month_to_date_usd")
        self.forecast: Gauge = catalog_metric(registry, "sre_aws_cost_month_forecast_usd")
        self.budget: Gauge = catalog_metric(registry, "sre_aws_cost_budget_usd")
        self.anomaly: Gauge = catalog_metric(registry, "sre_aws_cost_anomaly")
