"""The daemon's own metrics, named and described by ``sre.catalog.DAEMON_METRICS``.

Everything registers on a registry passed in (tests pass a fresh ``CollectorRegistry``).
Each feature builds its own in its ``metrics.py`` the same way:
``catalog_metric(registry, "sre_outbox_pending")`` takes type, labels and help from the
catalogue, so a name is never retyped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from sre.catalog import DAEMON_METRICS

JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600)
_TYPES: dict[str, Callable[..., Any]] = {"counter": Counter, "gauge": Gauge, "histogram": Histogram}


def labels_of(name: str) -> list[str]:
    return [part.strip() for part in DAEMON_METRICS[name][1].split(",") if part.strip()]


def catalog_metric(registry: CollectorRegistry, name: str, **kwargs: Any) -> Any:
    """A Counter / Gauge / Histogram exactly as the catalogue describes ``name``."""
    kind, _, help_text = DAEMON_METRICS[name]
    return _TYPES[kind](name, help_text, labels_of(name), registry=registry, **kwargs)


class CoreMetrics:
    """The runtime's own metrics: what runs (build, config) and the jobs' runs."""

    def config_loaded(self, sha256: str) -> None:
        """A reload: the info metric names the config now running, and only it."""
        self.config.clear()
        self.config.labels(sha256=sha256).set(1)
        self.reloads.labels(result="success").inc()

    def reload_refused(self) -> None:
        self.reloads.labels(result="failure").inc()

    def __init__(self, registry: CollectorRegistry, version: str, config_sha256: str) -> None:
        self.registry = registry
        build = catalog_metric(registry, "sre_build_info")
        build.labels(version=version).set(1)
        self.config: Gauge = catalog_metric(registry, "sre_config_info")
        self.config.labels(sha256=config_sha256).set(1)
        self.reloads: Counter = catalog_metric(registry, "sre_config_reloads_total")
        for result in ("success", "failure"):
            self.reloads.labels(result=result)
        self.bad_requests: Counter = catalog_metric(registry, "sre_http_bad_requests_total")
        self.job_runs: Counter = catalog_metric(registry, "sre_job_runs_total")
        self.job_duration: Histogram = catalog_metric(
            registry, "sre_job_duration_seconds", buckets=JOB_BUCKETS
        )
        self.job_last_success: Gauge = catalog_metric(
            registry, "sre_job_last_success_timestamp_seconds"
        )
