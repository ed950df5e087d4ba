"""The kube-prometheus-stack Helm values the platform needs, rendered beside the objects
in ``build/kubernetes/`` (``helm upgrade ... -f kube-prometheus-stack-values.yaml``).

* Prometheus keeps ``prometheus.retention`` (30d: the SLO rules read 30-day windows) and
  picks up our PrometheusRules, ServiceMonitors and PodMonitors in every namespace by the
  labels sre.yaml gives them, not by the chart's implicit ``release`` default.
* Alertmanager gets the same configuration as ``build/alertmanager/alertmanager.yaml``,
  its secret files re-rooted where the operator mounts ``alertmanagerSpec.secrets``.
* Grafana's sidecar loads the dashboard ConfigMaps by their label, into their folder.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sre.config import Config
from sre.render import alertmanager


def values(cfg: Config, alerts: Collection[str]) -> dict[str, Any]:
    k8s = cfg.kubernetes
    spec: dict[str, Any] = {"retention": str(cfg.needs_prometheus().retention)}
    for kind, labels in (
        ("rule", k8s.rule_labels),
        ("serviceMonitor", k8s.monitor_labels),
        ("podMonitor", k8s.monitor_labels),
    ):
        spec[f"{kind}Selector"] = {"matchLabels": dict(sorted(labels.items()))}
        spec[f"{kind}SelectorNilUsesHelmValues"] = False
        spec[f"{kind}NamespaceSelector"] = {}
    out: dict[str, Any] = {"prometheus": {"prometheusSpec": spec}}
    am = cfg.alertmanager
    if am is not None and am.route is not None:
        out["alertmanager"] = {
            "config": alertmanager.config(
                cfg, alerts, secrets_dir=alertmanager.OPERATOR_SECRETS_DIR
            ),
            "alertmanagerSpec": {"secrets": alertmanager.secret_names(am)},
        }
    label, value = next(iter(sorted(k8s.dashboard_labels.items())), ("grafana_dashboard", "1"))
    out["grafana"] = {
        "sidecar": {
            "dashboards": {
                "enabled": True,
                "label": label,
                "labelValue": value,
                "folderAnnotation": "grafana_folder",
                "provider": {"foldersFromFilesStructure": True},
            }
        }
    }
    return out
