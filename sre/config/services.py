"""The platform being watched: services (SLO, health probe, rollback policy), datastores,
queues and the alert thresholds."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from sre.config.durations import Duration
from sre.config.loader import key
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
    """A service's objectives over 30 days."""

    availability: Decimal = key(
        "target in percent of non-5xx requests (`99.9`); the error budget is exact (0.001)",
        check=percent,
    )
    latency_p95_seconds: float | None = key(
        "p95 latency objective; shown on the SLO dashboard, and the latency alert's SLA "
        "when the service has no rollback threshold",
        None,
        check=positive,
    )

    @property
    def error_budget(self) -> Decimal:
        """The allowed error ratio, exactly: 99.9 -> 0.001."""
        return (Decimal(100) - self.availability) / Decimal(100)


@dataclass(frozen=True, slots=True)  # a config may hold tens of thousands
class Probe:
    """One health target: an HTTP(S) URL or ``tcp://host:port``."""

    url: str = key("`http://...`, `https://...` or `tcp://host:port`", check=probe_url)
    name: str = key(
        "the `target` label; `health` for `services[].health`, required in `probes`", ""
    )
    service: str = key(
        "the `service` label; default: the service's name (in `probes`: the probe's name)", ""
    )
    interval: Duration = key(
        "how often; probes with the same interval share one engine",
        Duration.of(seconds=15),
        check=positive,
    )
    timeout: Duration = key(
        "whole-probe budget (DNS, connect, TLS, response); at most `interval`",
        Duration.of(seconds=2),
        check=positive,
    )
    method: Literal["GET", "HEAD", "POST"] = key("HTTP method (POST sends no body)", "GET")
    expect_status: tuple[int, ...] = key(
        "accepted status codes, e.g. `[200, 301]`; empty: any 2xx (redirects not followed)", ()
    )
    body_regex: str | None = key(
        "the first 1 MiB of the body must match (Python `re.search`)", None, check=regex
    )
    tls_verify: bool = key("verify the certificate chain and host name", True)
    keepalive: bool = key(
        "reuse pooled connections between probes (off: a pooled socket can hide a dead server)",
        False,
    )

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
    """What a rollback acts on."""

    kind: Literal["deployment", "helm", "command"] = key(
        "`deployment` (kubectl rollout undo), `helm` (helm rollback) or `command`"
    )
    name: str | None = key("kind deployment: the Deployment's name", None)
    release: str | None = key("kind helm: the release's name", None)
    argv: tuple[str, ...] | None = key("kind command: the command to run (no shell)", None)
    revision_argv: tuple[str, ...] | None = key(
        "kind command: a command printing the current revision as JSON (`revision`, "
        "`previous`, `deployed_at`); without it each failing episode rolls back once",
        None,
    )

    def _problems(self) -> list[tuple[str, str]]:
        need = {"deployment": "name", "helm": "release", "command": "argv"}[self.kind]
        if not getattr(self, need):
            return [(need, f"missing required key for kind {self.kind!r}")]
        return []


@dataclass(frozen=True)
class Rollback:
    """A service's auto-rollback policy; only a trigger that fails for the whole window acts."""

    target: RollbackTarget = key("what to roll back")
    error_rate_above: float | None = key(
        "5xx share of all requests that fails the error-rate trigger; null: no such trigger",
        0.05,
        check=ratio,
    )
    latency_p95_above_seconds: float | None = key(
        "the SLA: p95 latency that fails the latency trigger; null: no such trigger",
        None,
        check=positive,
    )
    for_: Duration = key(
        "a trigger fails only when it held for this whole window",
        Duration.of(minutes=2),
        check=positive,
        name="for",
    )
    health_failures: int | None = key(
        "consecutive failed probes (begun after the deploy) that fail the health trigger",
        3,
        check=positive,
    )
    after_deploy: Duration | None = key(
        "only roll back within this long of a new revision; unset: always", None
    )
    cooldown: Duration = key(
        "no second rollback of a service within this long", Duration.of(minutes=30)
    )
    dry_run: bool = key("decide, record and announce, but run nothing", False)
    min_request_rate: float = key(
        "below this many requests/s a verdict is 'too little traffic', never a fail",
        0.1,
        check=positive,
    )
    timeout: Duration = key(
        "how long `kubectl rollout status` / `helm --wait` / the command may take",
        Duration.of(minutes=5),
        check=positive,
    )


@dataclass(frozen=True)
class Scrape:
    """Where Prometheus scrapes a service or an exporter: a ServiceMonitor (``kind:
    service``) or PodMonitor (``kind: pod``) under kube-prometheus-stack, and a job in the
    plain build/prometheus/prometheus.yaml (``targets``, else file discovery)."""

    kind: Literal["service", "pod"] = key(
        "`service` (ServiceMonitor) or `pod` (PodMonitor)", "service"
    )
    port: str = key("the named port of the Service or Pod", "http")
    path: str = key("the metrics path", "/metrics")
    interval: Duration | None = key(
        "scrape interval; default: `prometheus.scrape_interval`", None, check=positive
    )
    match_labels: dict[str, str] = key(
        "labels that select the Service or Pods; default: `app.kubernetes.io/name: <name>`",
        factory=dict,
    )
    targets: tuple[str, ...] = key(
        "host:port targets for the plain prometheus.yaml; empty: file discovery", ()
    )


@dataclass(frozen=True)
class Service:
    """One service of the platform: its metrics carry ``service="<name>"``."""

    name: str = key("the `service` label of its metrics (a DNS label)", check=dns_name)
    namespace: str = key("its Kubernetes namespace", check=dns_name)
    description: str = key("free text", "")
    slo: SLO | None = key("its objectives; unset: no SLO rules or panels", None)
    health: Probe | None = key("its health probe (target `health`)", None)
    rollback: Rollback | None = key("its auto-rollback policy; unset: never rolled back", None)
    metrics: Scrape = key("where Prometheus scrapes its metrics", factory=Scrape)


@dataclass(frozen=True)
class Datastore:
    name: str = key("its name in alerts and dashboards", check=dns_name)
    kind: Literal["postgres", "redis"] = key("`postgres` or `redis`")
    namespace: str = key("its Kubernetes namespace", check=dns_name)
    selector: str = key(
        "extra matchers (on top of `selectors.<kind>`) when several instances share one "
        "exporter job",
        "",
    )
    exporter: Scrape = key(
        "where Prometheus scrapes its exporter", factory=lambda: Scrape(port="metrics")
    )


@dataclass(frozen=True)
class Queue:
    name: str = key("the `queue` label of the queue metrics")
    backlog_above: int = key("tasks waiting that make a backlog alert", 1000, check=positive)
    oldest_age_above: Duration = key(
        "age of the oldest waiting task that makes an alert",
        Duration.of(minutes=10),
        check=positive,
    )


@dataclass(frozen=True)
class Thresholds:
    """Site-specific alert thresholds, in one place (as kubernetes-mixin's _config)."""

    cpu_ratio_above: float = key("node CPU busy share that alerts", 0.9, check=ratio)
    memory_ratio_above: float = key("node memory used share that alerts", 0.9, check=ratio)
    disk_ratio_above: float = key("filesystem used share that alerts", 0.85, check=ratio)
    disk_fill_within: Duration = key(
        "`NodeDiskFillingUp`: predicted full within this long", Duration.of(hours=4)
    )
    restarts_per_hour_above: int = key("container restarts per hour that alert", 3)
    agent_failure_ratio_above: float = key("agent task failure share that alerts", 0.1, check=ratio)
    agent_p95_seconds_above: float = key(
        "agent task p95 duration that alerts, seconds", 300.0, check=positive
    )
    postgres_connections_ratio_above: float = key(
        "PostgreSQL connections used of `max_connections` that alert", 0.8, check=ratio
    )
    postgres_replication_lag_above: Duration = key(
        "PostgreSQL replication lag that alerts", Duration.of(seconds=30)
    )
    redis_memory_ratio_above: float = key(
        "Redis memory used of maxmemory that alerts", 0.9, check=ratio
    )
    auth_failure_ratio_above: float = key(
        "401/403 share of a service's requests that alerts (security)", 0.2, check=ratio
    )
    auth_failure_min_rate: float = key(
        "...counted only above this many 401/403 per second", 1.0, check=positive
    )
    traffic_anomaly_ratio: float = key(
        "request rate this many times its level a week earlier alerts (security)",
        3.0,
        check=positive,
    )
    single_source_share_above: float = key(
        "one client sending this share of a service's requests alerts (security)",
        0.5,
        check=ratio,
    )
    tls_cert_expiry_within: Duration = key(
        "warn when a probed TLS certificate expires within this long",
        Duration.parse("14d"),
        check=positive,
    )
    traffic_anomaly_min_rate: float = key(
        "both traffic anomaly alerts stay quiet below this many requests/s per service",
        1.0,
        check=positive,
    )
