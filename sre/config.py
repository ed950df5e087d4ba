"""``sre.yaml`` -> frozen dataclasses (DESIGN.md section 3).

The dataclasses below *are* the schema: ``sre.schema.Loader`` walks them, so adding a key
is adding a field. Keys are a contract with tests outside this repository: add, never
rename. Every problem is reported together, each with its key path, before anything starts.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import yaml

from sre.durations import Duration
from sre.schema import Loader, Problem, non_empty, positive, ratio

_NAME = re.compile(r"^[a-z][a-z0-9-]*$")


def _dns_name(value: str) -> str | None:
    ok = _NAME.fullmatch(value)
    return None if ok else f"{value!r} must be lowercase letters, digits and '-' (a DNS label)"


def _url(value: str) -> str | None:
    parsed = urlparse(value)
    if parsed.scheme in ("http", "https") and parsed.netloc:
        return None
    return f"{value!r} is not an http(s) URL"


def _probe_url(value: str) -> str | None:
    parsed = urlparse(value)
    if parsed.scheme in ("http", "https") and parsed.netloc:
        return None
    if parsed.scheme == "tcp" and parsed.hostname and parsed.port:
        return None
    return f"{value!r} must be an http(s):// URL or tcp://host:port"


def _env_name(value: str) -> str | None:
    if re.fullmatch(r"[A-Z_][A-Z0-9_]*", value):
        return None
    return f"{value!r} is not an environment variable name (the secret itself never goes here)"


def _cron(value: str) -> str | None:
    fields = value.split()
    if len(fields) != 5:
        return f"{value!r} is not a 5-field cron expression (minute hour day month weekday)"
    try:
        from apscheduler.triggers.cron import CronTrigger

        CronTrigger.from_crontab(value, timezone="UTC")
    except ValueError as err:
        return f"{value!r} is not a valid cron expression: {err}"
    return None


def _percent(value: Decimal) -> str | None:
    if value.is_finite() and Decimal(0) < value < Decimal(100):
        return None
    return "must be a percentage below 100, e.g. 99.9"


def _listen(value: str) -> str | None:
    host, sep, port = value.rpartition(":")
    if sep and host and port.isdigit() and 0 < int(port) < 65536:
        return None
    return f"{value!r} must be host:port, e.g. 0.0.0.0:9877"


def _state(value: str) -> str | None:
    if value.startswith("sqlite:///") and len(value) > len("sqlite:///"):
        return None
    return f"{value!r} must be sqlite:///path/to/state.db"


def _regex(value: str) -> str | None:
    try:
        re.compile(value)
    except re.error as err:
        return f"{value!r} is not a valid regular expression: {err}"
    return None


# --------------------------------------------------------------------------- connections


@dataclass(frozen=True)
class PrometheusConfig:
    url: str = field(metadata={"check": _url})
    datasource_uid: str = "prometheus"
    # Publish: where rendered rule files go, and whether to /-/reload afterwards (issue 7).
    rules_dir: str | None = None
    reload: bool = True


@dataclass(frozen=True)
class AlertmanagerConfig:
    url: str = field(metadata={"check": _url})
    # Where people open silence links; defaults to ``url``.
    public_url: str | None = field(default=None, metadata={"check": _url})


@dataclass(frozen=True)
class GrafanaConfig:
    url: str = field(metadata={"check": _url})
    token_env: str = field(default="GRAFANA_TOKEN", metadata={"check": _env_name})
    folder: str = "Parallel AI"
    folder_uid: str | None = None
    # Links in alerts and Slack point here; defaults to ``url``.
    public_url: str | None = field(default=None, metadata={"check": _url})
    # Dashboards we own carry this tag; ``--prune`` only ever removes tagged ones.
    ownership_tag: str = "managed-by-sre"


@dataclass(frozen=True)
class RunbooksConfig:
    base_url: str = field(metadata={"check": _url})


@dataclass(frozen=True)
class KubernetesConfig:
    """What ``build/kubernetes/`` objects look like (PrometheusRule, dashboard ConfigMaps)."""

    namespace: str = "monitoring"
    rule_labels: dict[str, str] = field(
        default_factory=lambda: {"release": "kube-prometheus-stack"}
    )
    dashboard_labels: dict[str, str] = field(default_factory=lambda: {"grafana_dashboard": "1"})


@dataclass(frozen=True)
class Selectors:
    """PromQL label matchers that pick each exporter's series. No selector lives in code."""

    applications: str = ""
    node: str = 'job="node-exporter"'
    kube_state_metrics: str = 'job="kube-state-metrics"'
    cadvisor: str = 'job="kubelet", metrics_path="/metrics/cadvisor"'
    postgres: str = 'job="postgres-exporter"'
    redis: str = 'job="redis-exporter"'
    agents: str = ""
    daemon: str = 'job="sre-daemon"'


# --------------------------------------------------------------------------- services


@dataclass(frozen=True)
class SLO:
    availability: Decimal = field(metadata={"check": _percent})
    latency_p95_seconds: float | None = field(default=None, metadata={"check": positive})

    @property
    def error_budget(self) -> Decimal:
        """The allowed error ratio, exactly: 99.9 -> 0.001."""
        return (Decimal(100) - self.availability) / Decimal(100)


@dataclass(frozen=True)
class Probe:
    """One health target: an HTTP(S) URL or ``tcp://host:port``."""

    url: str = field(metadata={"check": _probe_url})
    name: str = ""
    service: str = ""
    interval: Duration = field(default=Duration.of(seconds=15), metadata={"check": positive})
    timeout: Duration = field(default=Duration.of(seconds=2), metadata={"check": positive})
    method: Literal["GET", "HEAD", "POST"] = "GET"
    expect_status: tuple[int, ...] = ()  # empty: any 2xx
    body_regex: str | None = field(default=None, metadata={"check": _regex})
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
class Service:
    name: str = field(metadata={"check": _dns_name})
    namespace: str = field(metadata={"check": _dns_name})
    description: str = ""
    slo: SLO | None = None
    health: Probe | None = None
    rollback: Rollback | None = None


@dataclass(frozen=True)
class Datastore:
    name: str = field(metadata={"check": _dns_name})
    kind: Literal["postgres", "redis"]
    namespace: str = field(metadata={"check": _dns_name})
    # Extra matchers (on top of selectors.<kind>) that pick this instance, if several share one.
    selector: str = ""


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


# --------------------------------------------------------------------------- daemon


@dataclass(frozen=True)
class RollbackEngine:
    enabled: bool = True  # the global switch
    interval: Duration = field(default=Duration.of(seconds=15), metadata={"check": positive})
    no_verdict_warn_after: int = field(default=20, metadata={"check": positive})
    # The rate() window inside the trigger queries, and the range query's step.
    rate_window: Duration = field(default=Duration.of(minutes=1), metadata={"check": positive})
    step: Duration = field(default=Duration.of(seconds=15), metadata={"check": positive})


@dataclass(frozen=True)
class DaemonConfig:
    listen: str = field(default="0.0.0.0:9877", metadata={"check": _listen})
    state: str = field(default="sqlite:///var/lib/sre/state.db", metadata={"check": _state})
    webhook_token_env: str | None = field(
        default="SRE_WEBHOOK_TOKEN", metadata={"check": _env_name}
    )
    probe_concurrency: int = field(default=256, metadata={"check": positive})
    shutdown_timeout: Duration = field(
        default=Duration.of(seconds=20), metadata={"check": positive}
    )
    misfire_grace: Duration = field(default=Duration.of(seconds=30), metadata={"check": positive})
    max_webhook_bytes: int = field(default=1_048_576, metadata={"check": positive})
    reconcile_interval: Duration = field(
        default=Duration.of(minutes=5), metadata={"check": positive}
    )
    rollbacks: RollbackEngine = field(default_factory=RollbackEngine)

    @property
    def state_path(self) -> str:
        """``sqlite:///var/lib/sre/state.db`` -> ``/var/lib/sre/state.db`` (absolute, as in
        DESIGN.md; ``sqlite:////abs`` works too). ``sqlite:///./state.db`` is relative to the
        working directory, for local runs."""
        rest = self.state.removeprefix("sqlite:///")
        if rest.startswith(("./", "../")):
            return rest
        return "/" + rest.lstrip("/")

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


@dataclass(frozen=True)
class SlackRoute:
    channel: str = field(metadata={"check": non_empty})
    match: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SlackConfig:
    token_env: str = field(default="SLACK_BOT_TOKEN", metadata={"check": _env_name})
    signing_secret_env: str = field(default="SLACK_SIGNING_SECRET", metadata={"check": _env_name})
    base_url: str | None = field(default=None, metadata={"check": _url})
    routes: tuple[SlackRoute, ...] = field(
        default=(SlackRoute(channel="#alerts"),), metadata={"check": non_empty}
    )

    def channel_for(self, labels: dict[str, str]) -> str:
        """First route whose ``match`` labels all equal the alert's wins."""
        for route in self.routes:
            if all(labels.get(k) == v for k, v in route.match.items()):
                return route.channel
        return self.routes[-1].channel


@dataclass(frozen=True)
class AwsConfig:
    region: str = "us-east-1"
    endpoint_url: str | None = field(default=None, metadata={"check": _url})


@dataclass(frozen=True)
class AnomalyConfig:
    lookback_days: int = field(default=14, metadata={"check": positive})
    min_increase_usd: float = 50.0
    ratio: float = field(default=1.5, metadata={"check": positive})


@dataclass(frozen=True)
class CostConfig:
    schedule: str = field(default="0 7 * * *", metadata={"check": _cron})
    daily_budget_usd: float | None = field(default=None, metadata={"check": positive})
    monthly_budget_usd: float | None = field(default=None, metadata={"check": positive})
    anomaly: AnomalyConfig = field(default_factory=AnomalyConfig)
    # Cost Explorer bills each request and refreshes ~3 times a day: cache this long.
    refresh_every: Duration = field(default=Duration.of(hours=6), metadata={"check": positive})


@dataclass(frozen=True)
class S3Location:
    bucket: str = field(metadata={"check": non_empty})
    prefix: str = ""


@dataclass(frozen=True)
class RdsLocation:
    db_instance: str = field(metadata={"check": non_empty})


@dataclass(frozen=True)
class RestoreCheck:
    sql: str = field(metadata={"check": non_empty})
    min: float | None = None
    max: float | None = None
    equals: float | None = None

    def _problems(self) -> list[tuple[str, str]]:
        if self.min is None and self.max is None and self.equals is None:
            return [("", "needs at least one of min, max or equals")]
        return []


@dataclass(frozen=True)
class RestoreTest:
    kind: Literal["postgres"]
    dsn_env: str = field(metadata={"check": _env_name})
    schedule: str = field(default="0 4 * * 0", metadata={"check": _cron})
    checks: tuple[RestoreCheck, ...] = ()
    timeout: Duration = field(default=Duration.of(hours=1), metadata={"check": positive})


@dataclass(frozen=True)
class Backup:
    name: str = field(metadata={"check": _dns_name})
    max_age: Duration = field(metadata={"check": positive})
    s3: S3Location | None = None
    rds: RdsLocation | None = None
    min_size_bytes: int = 0
    # Fail when the newest backup is this fraction smaller than the median of earlier ones.
    max_shrink_ratio: float = field(default=0.5, metadata={"check": ratio})
    interval: Duration = field(default=Duration.of(hours=1), metadata={"check": positive})
    restore_test: RestoreTest | None = None

    def _problems(self) -> list[tuple[str, str]]:
        if (self.s3 is None) == (self.rds is None):
            return [("", "needs exactly one of s3 or rds")]
        if self.restore_test is not None and self.s3 is None:
            return [("restore_test", "a restore test needs an s3 backup (a pg_dump file)")]
        return []


# --------------------------------------------------------------------------- the whole file


@dataclass(frozen=True)
class Config:
    system: str = field(metadata={"check": _dns_name})
    prometheus: PrometheusConfig
    runbooks: RunbooksConfig
    environment: str = "production"
    alertmanager: AlertmanagerConfig | None = None
    grafana: GrafanaConfig | None = None
    kubernetes: KubernetesConfig = field(default_factory=KubernetesConfig)
    selectors: Selectors = field(default_factory=Selectors)
    thresholds: Thresholds = field(default_factory=Thresholds)
    services: tuple[Service, ...] = field(default=(), metadata={"check": non_empty})
    datastores: tuple[Datastore, ...] = ()
    queues: tuple[Queue, ...] = ()
    probes: tuple[Probe, ...] = ()
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    slack: SlackConfig | None = None
    aws: AwsConfig | None = None
    cost: CostConfig | None = None
    backups: tuple[Backup, ...] = ()

    def _problems(self) -> list[tuple[str, str]]:
        problems = []
        named: tuple[tuple[str, tuple[Service | Datastore | Queue | Probe | Backup, ...]], ...] = (
            ("services", self.services),
            ("datastores", self.datastores),
            ("queues", self.queues),
            ("probes", self.probes),
            ("backups", self.backups),
        )
        for key, items in named:
            seen: set[str] = set()
            for i, item in enumerate(items):
                name = getattr(item, "name", None)
                if not isinstance(name, str):  # an item with its own problems
                    continue
                if name in seen:
                    problems.append((f"{key}[{i}].name", f"{name!r} is used twice"))
                seen.add(name)
        for i, probe in enumerate(self.probes):
            if not probe.name:
                problems.append((f"probes[{i}].name", "missing required key"))
        problems += self._probe_key_problems()
        problems += self._datastore_selector_problems()
        problems += self._rollback_window_problems()
        if self.cost is not None and self.aws is None:
            problems.append(("cost", "needs an aws section (region, endpoint_url)"))
        if self.backups and self.aws is None:
            problems.append(("backups", "needs an aws section (region, endpoint_url)"))
        return problems

    def _probe_key_problems(self) -> list[tuple[str, str]]:
        """(service, target) names one probe: its metrics and the rollback trigger's state."""
        seen = {
            (s.health.service or s.name, s.health.name or "health")
            for s in self.services
            if isinstance(s, Service) and isinstance(s.health, Probe)
        }
        problems = []
        for i, probe in enumerate(self.probes):
            if not isinstance(probe, Probe) or not probe.name:
                continue
            key = (probe.service or probe.name, probe.name)
            if key in seen:
                problems.append(
                    (
                        f"probes[{i}].name",
                        f"service {key[0]!r} already has a probe named {key[1]!r}",
                    )
                )
            seen.add(key)
        return problems

    def _datastore_selector_problems(self) -> list[tuple[str, str]]:
        """Two datastores of one kind must be told apart, or both match every series."""
        problems = []
        for i, store in enumerate(self.datastores):
            if not isinstance(store, Datastore):
                continue
            same_kind = [d for d in self.datastores if getattr(d, "kind", None) == store.kind]
            if len(same_kind) > 1 and not store.selector:
                problems.append(
                    (
                        f"datastores[{i}].selector",
                        f"required when several datastores are of kind {store.kind!r} "
                        "(e.g. 'instance=~\"pg-main.*\"')",
                    )
                )
        return problems

    def _rollback_window_problems(self) -> list[tuple[str, str]]:
        """A rollback trigger's ``for`` must be longer than the rate() window in its
        queries, or one rate sample alone would span the whole window."""
        engine = getattr(self.daemon, "rollbacks", None)
        rate_window = getattr(engine, "rate_window", None)
        if not isinstance(rate_window, Duration):
            return []
        problems = []
        for i, svc in enumerate(self.services):
            rb = getattr(svc, "rollback", None)
            if isinstance(rb, Rollback) and rb.for_.seconds <= rate_window.seconds:
                problems.append(
                    (
                        f"services[{i}].rollback.for",
                        f"{rb.for_} must be longer than daemon.rollbacks.rate_window "
                        f"({rate_window})",
                    )
                )
        return problems

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    def all_probes(self) -> list[Probe]:
        """Every health target: each service's ``health`` plus the top-level ``probes``."""
        from dataclasses import replace

        found = [
            replace(s.health, name=s.health.name or "health", service=s.health.service or s.name)
            for s in self.services
            if s.health is not None
        ]
        found += [replace(p, service=p.service or p.name) for p in self.probes]
        return found


class ConfigError(Exception):
    """Every problem found in a config file, each with its key path."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.problems)
        head = f"{self.source}: {count} problem{'s' if count != 1 else ''}"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])


def parse_config(data: Any, source: str = "sre.yaml") -> Config:
    if not isinstance(data, dict):
        raise ConfigError(source, [Problem("", "the file must be a mapping of sections")])
    loader = Loader()
    config = loader.load(Config, data)
    if loader.problems:
        raise ConfigError(source, loader.problems)
    return config


def load_config(path: str | Path) -> Config:
    """Read and validate ``sre.yaml``; raise :class:`ConfigError` listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(str(path), [Problem("", f"cannot read: {err.strerror}")]) from None
    except UnicodeDecodeError as err:
        reason = f"not UTF-8 text (byte {err.start})"
        raise ConfigError(str(path), [Problem("", reason)]) from None
    try:
        # libyaml's loader where available: ~4x faster on configs with thousands of probes.
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        reason = getattr(err, "problem", None) or str(err)
        raise ConfigError(str(path), [Problem("", f"{where}not valid YAML: {reason}")]) from None
    return parse_config(data, str(path))


def config_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
