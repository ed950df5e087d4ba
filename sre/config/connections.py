"""Where the outside systems are: Prometheus, Alertmanager, Grafana, runbooks, Kubernetes
object labels, and the PromQL selectors that pick each exporter's series.

Checks are named through the module (``v.url``): inside a class body a field called
``url`` would hide the check of the same name from every field after it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sre.config import validators as v
from sre.config.durations import Duration
from sre.config.loader import key


@dataclass(frozen=True)
class PrometheusConfig:
    """The Prometheus the rules run in and the dashboards and the rollback trigger query."""

    url: str = key("base URL of the Prometheus HTTP API", check=v.url)
    datasource_uid: str = key("uid of the Prometheus datasource in Grafana", "prometheus")
    rules_dir: str | None = key(
        "publish: directory the rendered rule files are copied to; unset = rules are not published",
        None,
    )
    reload: bool = key("publish: call Prometheus' `/-/reload` after copying the rules", True)
    retention: Duration = key(
        "how much history Prometheus keeps (kube-prometheus-stack values); the retention "
        "guard alerts when it is shorter than the longest window a rule reads",
        Duration.parse("30d"),
        check=v.positive,
    )
    scrape_interval: Duration = key(
        "scrape interval of the rendered scrape configuration and monitors",
        Duration.of(seconds=30),
        check=v.positive,
    )


@dataclass(frozen=True)
class GrafanaConfig:
    """Where dashboards are published and where alerts link to."""

    url: str = key("base URL of Grafana's HTTP API", check=v.url)
    token_env: str = key(
        "variable holding the Grafana service-account token", "GRAFANA_TOKEN", check=v.env_name
    )
    folder: str = key("title of the folder the dashboards go to", "Parallel AI")
    folder_uid: str | None = key("uid of that folder; default: derived from `system`", None)
    public_url: str | None = key(
        "where links in alerts and Slack point; default: `url`", None, check=v.url
    )
    ownership_tag: str = key(
        "tag on every dashboard we own; `--prune` only ever removes dashboards with it",
        "managed-by-sre",
    )
    annotations: bool = key(
        "the daemon marks deploys, rollbacks and silences from Slack as Grafana annotations "
        "(tags `deploy`/`rollback`/`silence` and the service); needs the token in its "
        "environment, allowed annotations:create and annotations:read",
        True,
    )


@dataclass(frozen=True)
class RunbooksConfig:
    base_url: str = key("`runbook_url` of every alert is this plus `<AlertName>.md`", check=v.url)


@dataclass(frozen=True)
class KubernetesConfig:
    """What ``build/kubernetes/`` objects look like (PrometheusRule, dashboard ConfigMaps)."""

    namespace: str = key("namespace of the rendered objects", "monitoring")
    rule_labels: dict[str, str] = key(
        "labels on PrometheusRule objects (the operator's rule selector)",
        factory=lambda: {"release": "kube-prometheus-stack"},
    )
    dashboard_labels: dict[str, str] = key(
        "labels on dashboard ConfigMaps (the Grafana sidecar's selector)",
        factory=lambda: {"grafana_dashboard": "1"},
    )
    monitor_labels: dict[str, str] = key(
        "labels on ServiceMonitors and PodMonitors: kube-prometheus-stack only picks up "
        "monitors whose labels match its selectors (by default `release: <helm release>`)",
        factory=lambda: {"release": "kube-prometheus-stack"},
    )


@dataclass(frozen=True)
class Selectors:
    """PromQL label matchers that pick each exporter's series. No selector lives in code."""

    applications: str = key("the services' own `http_*` metrics", "")
    node: str = key("node-exporter", 'job="node-exporter"')
    kube_state_metrics: str = key("kube-state-metrics", 'job="kube-state-metrics"')
    cadvisor: str = key(
        "the kubelet's cAdvisor endpoint", 'job="kubelet", metrics_path="/metrics/cadvisor"'
    )
    postgres: str = key("postgres-exporter", 'job="postgres-exporter"')
    redis: str = key("redis-exporter", 'job="redis-exporter"')
    agents: str = key("the agent workers' task and queue metrics", "")
    daemon: str = key("the SRE daemon's own `sre_*` metrics", 'job="sre-daemon"')
