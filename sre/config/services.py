"""The platform being watched: services (SLO, health probe, rollback policy), datastores,
queues and the alert thresholds."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from sre.config.durations import Duration
from sre.config.validators import (
    dns_name,
    percent,
    positive,
    probe_url,
    ratio,
    regex,
)


@dataclass(frozen=True)
class SLO:
    availability: Decimal = field(metadata={"check": percent})
    latency_p95_seconds: float | None = field(default=None, metadata={"check": positive})

    @property
    def error_budget(self) -> Decimal:
        """The allowed error ratio, exactly: 99.9 -> 0.001."""
        return (Decimal(100) - self.availability) / Decimal(100)


@dataclass(frozen=True)
class Probe:
    """One health target: an HTTP(S) URL or ``tcp://host:port``."""

    url: str = field(metadata={"check": probe_url})
    name: str = ""
    service: str = ""
    interval: Duration = field(default=Duration.of(seconds=15), metadata={"check": positive})
    timeout: Duration = field(default=Duration.of(seconds=2), metadata={"check": positive})
    method: Literal["GET", "HEAD", "POST"] = "GET"
    expect_status: tuple[int, ...] = ()  # empty: any 2xx
    body_regex: str | None = field(default=None, metadata={"check": regex})
    tls_verify: bool = True
    # Reuse connections between probes. Off by default: a pooled socket can hide a dead server.
    keepalive: bool = False

    @property
    def kind(self) -> Literal["http", "tcp"]:
        return "tcp" if self.url.startswith("tcp://") else "http"

    def _problems(self) -> list[tuple[str, str]]:
        if self.timeout > self.interval:
            return [("timeout", f"{self.timeout} is longer than the interval {self.interval}")]
        if self.kind == "tcp" and (self.body_regex or self.expect_status):
            return [("url", "tcp:// probes cannot check a status code or a body")]
        return []


@dataclass(frozen=True)
class RollbackTarget:
    kind: Literal["deployment", "helm", "command"]
    name: str | None = None
    release: str | None = None
    argv: tuple[str, ...] | None = None
    # kind command only: prints the current revision (JSON: revision, previous, deployed_at);
    # without it a command target has no revision (see the rollback feature's README part).
    revision_argv: tuple[str, ...] | None = None

    def _problems(self) -> list[tuple[str, str]]:
        need = {"deployment": "name", "helm": "release", "command": "argv"}[self.kind]
        if not getattr(self, need):
            return [(need, f"missing required key for kind {self.kind!r}")]
        return []


@dataclass(frozen=True)
class Rollback:
    target: RollbackTarget
    error_rate_above: float | None = field(default=0.05, metadata={"check": ratio})
    latency_p95_above_seconds: float | None = field(default=None, metadata={"check": positive})
    for_: Duration = field(
        default=Duration.of(minutes=2), metadata={"key": "for", "check": positive}
    )
    health_failures: int | None = field(default=3, metadata={"check": positive})
    after_deploy: Duration | None = None
    cooldown: Duration = Duration.of(minutes=30)
    dry_run: bool = False
    # Below this many requests/s a verdict is "too little traffic", never a fail.
    min_request_rate: float = field(default=0.1, metadata={"check": positive})
    # How long kubectl rollout status / helm --wait may take.
    timeout: Duration = field(default=Duration.of(minutes=5), metadata={"check": positive})


@dataclass(frozen=True)
class Scrape:
    """Where Prometheus scrapes a service or an exporter: a ServiceMonitor (``kind:
    service``) or PodMonitor (``kind: pod``) under kube-prometheus-stack, and a job in the
    plain build/prometheus/prometheus.yaml (``targets``, else file discovery)."""

    kind: Literal["service", "pod"] = "service"
    port: str = "http"  # the named port of the Service / Pod
    path: str = "/metrics"
    interval: Duration | None = field(default=None, metadata={"check": positive})
    match_labels: dict[str, str] = field(default_factory=dict)  # default app.kubernetes.io/name
    targets: tuple[str, ...] = ()  # host:port, for the plain prometheus.yaml


@dataclass(frozen=True)
class Service:
    name: str = field(metadata={"check": dns_name})
    namespace: str = field(metadata={"check": dns_name})
    description: str = ""
    slo: SLO | None = None
    health: Probe | None = None
    rollback: Rollback | None = None
    metrics: Scrape = field(default_factory=Scrape)


@dataclass(frozen=True)
class Datastore:
    name: str = field(metadata={"check": dns_name})
    kind: Literal["postgres", "redis"]
    namespace: str = field(metadata={"check": dns_name})
    # Extra matchers (on top of selectors.<kind>) that pick this instance, if several share one.
    selector: str = ""
    exporter: Scrape = field(default_factory=lambda: Scrape(port="metrics"))


@dataclass(frozen=True)
class Queue:
    name: str
    backlog_above: int = field(default=1000, metadata={"check": positive})
    oldest_age_above: Duration = field(
        default=Duration.of(minutes=10), metadata={"check": positive}
    )


@dataclass(frozen=True)
class Thresholds:
    """Site-specific alert thresholds, in one place (as kubernetes-mixin's _config)."""

    cpu_ratio_above: float = field(default=0.9, metadata={"check": ratio})
    memory_ratio_above: float = field(default=0.9, metadata={"check": ratio})
    disk_ratio_above: float = field(default=0.85, metadata={"check": ratio})
    disk_fill_within: Duration = Duration.of(hours=4)
    restarts_per_hour_above: int = 3
    agent_failure_ratio_above: float = field(default=0.1, metadata={"check": ratio})
    agent_p95_seconds_above: float = field(default=300.0, metadata={"check": positive})
    postgres_connections_ratio_above: float = field(default=0.8, metadata={"check": ratio})
    postgres_replication_lag_above: Duration = Duration.of(seconds=30)
    redis_memory_ratio_above: float = field(default=0.9, metadata={"check": ratio})
    # Security: 401/403 share of all requests, only counted above a minimum rate.
    auth_failure_ratio_above: float = field(default=0.2, metadata={"check": ratio})
    auth_failure_min_rate: float = field(default=1.0, metadata={"check": positive})
    # Security: request rate this many times its same-hour-last-week level.
    traffic_anomaly_ratio: float = field(default=3.0, metadata={"check": positive})
    # Security: one client (source) sending this share of a service's requests.
    single_source_share_above: float = field(default=0.5, metadata={"check": ratio})
    # Probes: warn when a served TLS certificate expires within this long.
    tls_cert_expiry_within: Duration = field(
        default=Duration.parse("14d"), metadata={"check": positive}
    )
    # Security: both anomaly alerts stay quiet below this many requests/s per service.
    traffic_anomaly_min_rate: float = field(default=1.0, metadata={"check": positive})
