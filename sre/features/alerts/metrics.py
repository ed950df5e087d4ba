"""The alert feature's metrics, from the catalogue; label sets exported at 0 from the start
so ``increase()`` sees the first event (the rules alert on ``result="permanent_error"``)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from sre.runtime.metrics import catalog_metric

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
ACTIONS = ("ack", "silence_1h", "silence_4h", "rollback")
ACTION_RESULTS = ("ok", "error")


class AlertMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.received: Counter = catalog_metric(registry, "sre_alerts_received_total")
        self.duplicates: Counter = catalog_metric(registry, "sre_alert_duplicates_total")
        self.deliveries: Counter = catalog_metric(registry, "sre_slack_deliveries_total")
        self.latency: Histogram = catalog_metric(
            registry, "sre_slack_delivery_latency_seconds", buckets=LATENCY_BUCKETS
        )
        self.pending: Gauge = catalog_metric(registry, "sre_outbox_pending")
        self.actions: Counter = catalog_metric(registry, "sre_slack_actions_total")
        for status in ("firing", "resolved"):
            self.received.labels(status=status)
        for result in ("ok", "retry", "permanent_error"):
            self.deliveries.labels(result=result)
        for action in ACTIONS:
            for outcome in ACTION_RESULTS:
                self.actions.labels(action=action, result=outcome)

    def watch_pending(self, count: Callable[[], int]) -> None:
        def safe() -> float:
            try:
                return float(count())
            except Exception:  # store closed during shutdown: report nothing pending
                return 0.0

        self.pending.set_function(safe)
