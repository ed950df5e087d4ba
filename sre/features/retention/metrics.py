"""The retention check's metrics (names and help from the catalogue).

Rendered at scrape time from the last answer, so that a figure the daemon does not know
(Prometheus unreachable, a size-only retention) is absent rather than a default 0 that
would read as "retention is fine".
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sre.catalog import DAEMON_METRICS


def _gauge(name: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, DAEMON_METRICS[name][2], value=value)


class RetentionMetrics(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self.retention_seconds: float | None = None
        self.longest_seconds: float | None = None
        self.short: bool | None = None
        registry.register(self)

    def collect(self) -> Iterator[Metric]:
        if self.retention_seconds is not None:
            yield _gauge("sre_prometheus_retention_seconds", self.retention_seconds)
        if self.longest_seconds is not None:
            yield _gauge("sre_rules_longest_window_seconds", self.longest_seconds)
        if self.short is not None:
            yield _gauge("sre_prometheus_retention_short", 1.0 if self.short else 0.0)
