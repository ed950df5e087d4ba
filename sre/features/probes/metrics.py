"""The probe feature's metrics.

Probe results are not kept as prometheus-client children (five objects with a lock each
per target would cost ~50 MB at 10,000 targets): :class:`ProbeCollector` renders them at
scrape time from the engine's own per-target records, for the targets this replica probes
(several replicas: another replica's targets would be stale series here). Engine
heartbeats are a plain gauge.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sre.catalog import DAEMON_METRICS
from sre.checks.probe import Observation, ProbeState
from sre.runtime.metrics import catalog_metric, labels_of


class ProbeMetrics:
    def __init__(self, registry: CollectorRegistry, results: Callable[[], Iterable[ProbeResult]]):
        self.heartbeat: Gauge = catalog_metric(
            registry, "sre_probe_engine_heartbeat_timestamp_seconds"
        )
        self.owned: Gauge = catalog_metric(registry, "sre_probe_targets_owned")
        registry.register(ProbeCollector(results))


class ProbeResult(Protocol):
    """What :class:`ProbeCollector` needs from each target the engine keeps."""

    @property
    def state(self) -> ProbeState: ...
    @property
    def last(self) -> Observation | None: ...
    @property
    def is_http(self) -> bool: ...
    @property
    def failures(self) -> dict[str, int]: ...
    @property
    def owned(self) -> bool:
        """False while another replica probes it: its last result here is stale."""
        ...


def _family(name: str, cls: type[GaugeMetricFamily] | type[CounterMetricFamily]) -> Any:
    base = name.removesuffix("_total") if cls is CounterMetricFamily else name
    return cls(base, DAEMON_METRICS[name][2], labels=labels_of(name))


class ProbeCollector(Collector):
    """Renders ``sre_probe_*`` per target from the engine's records at scrape time."""

    def __init__(self, results: Callable[[], Iterable[ProbeResult]]) -> None:
        self._results = results

    def collect(self) -> Iterator[Metric]:
        success = _family("sre_probe_success", GaugeMetricFamily)
        duration = _family("sre_probe_duration_seconds", GaugeMetricFamily)
        status = _family("sre_probe_http_status_code", GaugeMetricFamily)
        expiry = _family("sre_probe_tls_cert_expiry_timestamp_seconds", GaugeMetricFamily)
        failures = _family("sre_probe_failures_total", CounterMetricFamily)
        for result in self._results():
            last = result.last
            state = result.state
            if last is None or not result.owned:  # exported by the replica that probes it
                continue
            key = [state.service, state.target]
            success.add_metric(key, 1.0 if state.up else 0.0)
            duration.add_metric(key, last.duration)
            if result.is_http:
                status.add_metric(key, float(last.status or 0))
            if last.cert_not_after is not None:
                expiry.add_metric(key, last.cert_not_after)
            for reason, count in sorted(result.failures.items()):
                failures.add_metric([*key, reason], float(count))
        yield from (success, duration, status, expiry, failures)
