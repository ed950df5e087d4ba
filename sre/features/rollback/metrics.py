"""The rollback feature's metrics; every label set exported at 0 from the start so that
``increase()`` in the alert rules sees the first rollback."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge

from sre.runtime.metrics import catalog_metric

TRIGGERS = ("error_rate", "latency", "health", "manual")
RESULTS = ("success", "failure", "dry_run")
QUERY_RESULTS = ("ok", "error")


class RollbackMetrics:
    def __init__(self, registry: CollectorRegistry, services: Iterable[str]) -> None:
        self.evaluations: Counter = catalog_metric(registry, "sre_rollback_evaluations_total")
        self.rollbacks: Counter = catalog_metric(registry, "sre_rollbacks_total")
        self.last: Gauge = catalog_metric(registry, "sre_rollback_last_timestamp_seconds")
        self.queries: Counter = catalog_metric(registry, "sre_rollback_queries_total")
        for result in QUERY_RESULTS:
            self.queries.labels(result=result)
        for name in services:
            for trigger in TRIGGERS:
                for result in RESULTS:
                    self.rollbacks.labels(service=name, trigger=trigger, result=result)

    def count_queries(self, queries: int, failed: int) -> None:
        """One cycle's trigger queries, ``failed`` of them without an answer."""
        self.queries.labels(result="ok").inc(queries - failed)
        self.queries.labels(result="error").inc(failed)
