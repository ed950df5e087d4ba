"""Validate Kubernetes objects offline: built-in kinds against the upstream OpenAPI schemas
(``kubernetes-validate``, strict: unknown fields are errors), prometheus-operator kinds
against models generated from the operator's CRD schemas (``cloudcoil-models-prometheus-
operator``: types, required fields, enums and patterns of the CRDs' openAPIV3Schema).

A CRD's API server prunes unknown fields silently instead of refusing them, so a field
the models do not know is reported here too: it would never reach the operator.
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pydantic
from cloudcoil.models.prometheus_operator import v1, v1alpha1

# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schemas
# kubernetes-validate ships.
KUBE_VERSIONS = ("1.27", kubernetes_validate.utils.latest_version())

OPERATOR_KINDS: dict[tuple[str, str], type[pydantic.BaseModel]] = {
    ("monitoring.coreos.com/v1", "Alertmanager"): v1.Alertmanager,
    ("monitoring.coreos.com/v1", "PodMonitor"): v1.PodMonitor,
    ("monitoring.coreos.com/v1", "Probe"): v1.Probe,
    ("monitoring.coreos.com/v1", "Prometheus"): v1.Prometheus,
    ("monitoring.coreos.com/v1", "PrometheusRule"): v1.PrometheusRule,
    ("monitoring.coreos.com/v1", "ServiceMonitor"): v1.ServiceMonitor,
    ("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig"): v1alpha1.AlertmanagerConfig,
    ("monitoring.coreos.com/v1alpha1", "ScrapeConfig"): v1alpha1.ScrapeConfig,
}


def problems(obj: dict[str, Any]) -> list[str]:
    """Every schema problem of one object, each naming the object and the field path."""
    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    name = f"{kind} {obj.get('metadata', {}).get('name', '?')}"
    if api_version.startswith("monitoring.coreos.com/"):
        return [f"{name}: {p}" for p in _operator_problems(obj)]
    found = []
    for version in KUBE_VERSIONS:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as err:
            path = ".".join(str(p) for p in err.path)
            found.append(f"{name} (Kubernetes {version}): {path}: {err.message}")
        except kubernetes_validate.SchemaNotFoundError as err:
            found.append(f"{name}: {err.message}")
    return found


def _operator_problems(obj: dict[str, Any]) -> list[str]:
    model = OPERATOR_KINDS.get((obj["apiVersion"], obj["kind"]))
    if model is None:
        return [f"no CRD schema for {obj['apiVersion']} {obj['kind']}"]
    try:
        parsed = model.model_validate(obj)
    except pydantic.ValidationError as err:
        return [
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in err.errors(include_url=False)
        ]
    kept = parsed.model_dump(by_alias=True, exclude_unset=True, mode="json")
    return [f"{path}: unknown field (the API server would drop it)" for path in _dropped(obj, kept)]


def _dropped(given: Any, kept: Any, path: str = "") -> list[str]:
    """Keys present in ``given`` but missing from ``kept`` (what validation discarded)."""
    if isinstance(given, dict) and isinstance(kept, dict):
        out = []
        for key, value in given.items():
            here = f"{path}.{key}" if path else str(key)
            out += [here] if key not in kept else _dropped(value, kept[key], here)
        return out
    if isinstance(given, list) and isinstance(kept, list):
        if len(given) != len(kept):
            return [f"{path}: {len(given) - len(kept)} items dropped"]
        pairs = enumerate(zip(given, kept, strict=True))
        return [p for i, (a, b) in pairs for p in _dropped(a, b, f"{path}[{i}]")]
    return []
