"""The heartbeat feature's metrics (names and help from the catalogue)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from sre.runtime.metrics import catalog_metric


class HeartbeatMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.last_seen: Gauge = catalog_metric(
            registry, "sre_heartbeat_last_seen_timestamp_seconds"
        )
        self.missing: Gauge = catalog_metric(registry, "sre_heartbeat_missing")
        self.received: Counter = catalog_metric(registry, "sre_heartbeats_received_total")
        self.pagerduty: Counter = catalog_metric(registry, "sre_pagerduty_events_total")
