"""The HA metrics every replica exports (``sre.catalog``): who leads, who is live, how often
the lease changed hands, what was refused."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.metrics_core import Metric

from sre.catalog import LABEL_VALUES
from sre.runtime.metrics import catalog_metric


class HaMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.leader: Gauge = catalog_metric(registry, "sre_ha_leader")
        self.replicas: Gauge = catalog_metric(registry, "sre_ha_replicas")
        self.epoch: Gauge = catalog_metric(registry, "sre_ha_lease_epoch")
        self.transitions: Counter = catalog_metric(registry, "sre_ha_lease_transitions_total")
        self.fenced: Counter = catalog_metric(registry, "sre_ha_fenced_actions_total")
        for name, counter in (
            ("sre_ha_lease_transitions_total", self.transitions),
            ("sre_ha_fenced_actions_total", self.fenced),
        ):
            ((label, values),) = LABEL_VALUES[name].items()
            for value in values:  # born at 0: increase() sees the first one
                counter.labels(**{label: value})

    def watch(self, leader: Callable[[], bool], replicas: Callable[[], int]) -> None:
        self.leader.set_function(lambda: 1.0 if leader() else 0.0)
        self.replicas.set_function(lambda: float(replicas()))


class LeaderOnly:
    """A registry whose metrics only the leader exports (register it on the main one).

    Gauges that leader-only jobs set (AWS cost, backup age) would stay frozen on a replica
    that lost the lease: an alert on one would fire for a value nobody measures any more,
    and a rule that sums them would count a replica twice. A lone daemon always leads.
    """

    def __init__(self, leading: Callable[[], object]) -> None:
        self.leading = leading
        self.registry = CollectorRegistry()

    def collect(self) -> Iterator[Metric]:
        if self.leading() is not None:
            yield from self.registry.collect()
