"""The deploys feature's metrics, from the catalogue; every label set exported at 0 from
the start so ``increase()`` sees the first one."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge

from sre.features.deploys.model import OUTCOMES
from sre.runtime.metrics import catalog_metric

KINDS = ("deploy", "rollback", "silence")
ANNOTATION_RESULTS = ("created", "adopted")
TARGETS = ("slack", "grafana")
RESULTS = ("ok", "retry", "permanent_error")


class DeployMetrics:
    def __init__(self, registry: CollectorRegistry, services: Iterable[str]) -> None:
        self.outcomes: Counter = catalog_metric(registry, "sre_deploys_total")
        self.annotations: Counter = catalog_metric(registry, "sre_annotations_total")
        self.deliveries: Counter = catalog_metric(registry, "sre_deploys_deliveries_total")
        self.pending: Gauge = catalog_metric(registry, "sre_deploys_pending")
        for service in services:
            for outcome in OUTCOMES:
                self.outcomes.labels(service=service, outcome=outcome)
        for kind in KINDS:
            for result in ANNOTATION_RESULTS:
                self.annotations.labels(kind=kind, result=result)
        for target in TARGETS:
            for result in RESULTS:
                self.deliveries.labels(target=target, result=result)

    def watch_pending(self, count: Callable[[], int]) -> None:
        def safe() -> float:
            try:
                return float(count())
            except Exception:  # store closed during shutdown: report nothing pending
                return 0.0

        self.pending.set_function(safe)
