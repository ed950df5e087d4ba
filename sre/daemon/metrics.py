"""The daemon's own metrics, named and described by ``sre.catalog.DAEMON_METRICS``.

Everything registers on a registry passed in (tests pass a fresh ``CollectorRegistry``).
Later features build theirs the same way: ``catalog_metric(registry, "sre_outbox_pending")``
takes type, labels and help from the catalogue, so a name is never retyped.

Probe results are not kept as prometheus-client children (five objects with a lock each
per target would cost ~50 MB at 10,000 targets): :class:`ProbeCollector` renders them at
scrape time from the engine's own per-target records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sre.catalog import DAEMON_METRICS
from sre.checks.probe import Observation, ProbeState

JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600)
_TYPES: dict[str, Callable[..., Any]] = {"counter": Counter, "gauge": Gauge, "histogram": Histogram}


def labels_of(name: str) -> list[str]:
    return [part.strip() for part in DAEMON_METRICS[name][1].split(",") if part.strip()]


def catalog_metric(registry: CollectorRegistry, name: str, **kwargs: Any) -> Any:
    """A Counter / Gauge / Histogram exactly as the catalogue describes ``name``."""
    kind, _, help_text = DAEMON_METRICS[name]
    return _TYPES[kind](name, help_text, labels_of(name), registry=registry, **kwargs)


class DaemonMetrics:
    """Core metrics: info, job runs, probe engine heartbeats, and those several features
    share (AWS errors)."""

    def __init__(self, registry: CollectorRegistry, version: str, config_sha256: str) -> None:
        self.registry = registry
        build = catalog_metric(registry, "sre_build_info")
        build.labels(version=version).set(1)
        config = catalog_metric(registry, "sre_config_info")
        config.labels(sha256=config_sha256).set(1)
        self.job_runs: Counter = catalog_metric(registry, "sre_job_runs_total")
        self.job_duration: Histogram = catalog_metric(
            registry, "sre_job_duration_seconds", buckets=JOB_BUCKETS
        )
        self.job_last_success: Gauge = catalog_metric(
            registry, "sre_job_last_success_timestamp_seconds"
        )
        self.probe_heartbeat: Gauge = catalog_metric(
            registry, "sre_probe_engine_heartbeat_timestamp_seconds"
        )
        # Shared by the cost and backup features, so it lives with the core metrics.
        self.aws_errors: Counter = catalog_metric(registry, "sre_aws_errors_total")


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
            if last is None:
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
