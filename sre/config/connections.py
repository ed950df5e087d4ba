"""Where the outside systems are: Prometheus, Alertmanager, Grafana, runbooks, Kubernetes
object labels, and the PromQL selectors that pick each exporter's series."""

from __future__ import annotations

from dataclasses import dataclass, field

from sre.config.durations import Duration
from sre.config.validators import (
    env_name,
    positive,
    url,
)


@dataclass(frozen=True)
class PrometheusConfig:
    url: str = field(metadata={"check": url})
    datasource_uid: str = "prometheus"
    # Publish: where rendered rule files go, and whether to /-/reload afterwards (issue 7).
    rules_dir: str | None = None
    reload: bool = True
    # How much history Prometheus keeps (kube-prometheus-stack values; the retention
    # guard alerts when it is shorter than the longest window a rule reads).
    retention: Duration = field(default=Duration.parse("30d"), metadata={"check": positive})
    scrape_interval: Duration = field(default=Duration.of(seconds=30), metadata={"check": positive})


@dataclass(frozen=True)
class GrafanaConfig:
    url: str = field(metadata={"check": url})
    token_env: str = field(default="GRAFANA_TOKEN", metadata={"check": env_name})
    folder: str = "Parallel AI"
    folder_uid: str | None = None
    # Links in alerts and Slack point here; defaults to ``url``.
    public_url: str | None = field(default=None, metadata={"check": url})
    # Dashboards we own carry this tag; ``--prune`` only ever removes tagged ones.
    ownership_tag: str = "managed-by-sre"


@dataclass(frozen=True)
class RunbooksConfig:
    base_url: str = field(metadata={"check": url})


@dataclass(frozen=True)
class KubernetesConfig:
    """What ``build/kubernetes/`` objects look like (PrometheusRule, dashboard ConfigMaps)."""

    namespace: str = "monitoring"
    rule_labels: dict[str, str] = field(
        default_factory=lambda: {"release": "kube-prometheus-stack"}
    )
    # ServiceMonitor/PodMonitor labels: kube-prometheus-stack only picks up monitors whose
    # labels match its selectors (by default release: <helm release>).
    monitor_labels: dict[str, str] = field(
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
