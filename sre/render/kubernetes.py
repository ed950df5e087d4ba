"""``build/kubernetes/``: PrometheusRule objects, Grafana-sidecar ConfigMaps, kustomization.

The Grafana sidecar of kube-prometheus-stack loads every ConfigMap labelled
``grafana_dashboard: "1"``; the Prometheus operator picks up PrometheusRules whose labels
match its ``ruleSelector`` (by default ``release: <helm release>``). Both label sets come
from ``sre.yaml`` (``kubernetes.rule_labels`` / ``kubernetes.dashboard_labels``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sre.config import Config
from sre.model import RuleGroup
from sre.render import scrape, stack_values
from sre.render.problems import Problem
from sre.render.rulefiles import dump_yaml

VALUES_FILE = "kube-prometheus-stack-values.yaml"  # Helm values, not an object: not in
# the kustomization
# The API server refuses ConfigMaps whose data passes 1 MiB; we hold the whole object
# (as written) under it, which is stricter and simple to check.
MAX_OBJECT_BYTES = 1024 * 1024
# Client-side ``kubectl apply`` stores the whole object in an annotation, and annotations
# are limited to 256 KiB in total; keep the dashboards' share of it below that.
APPLY_BUDGET = 256 * 1024 - 16 * 1024
MANAGED_BY = {"app.kubernetes.io/managed-by": "sre-render"}
_DNS_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_CONFIGMAP_KEY = re.compile(r"[a-zA-Z0-9][-._a-zA-Z0-9]*")
_NON_PRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff]")
# What a literal block scalar cannot hold as-is: control characters, Unicode line breaks,
# BOM, and whitespace at the end of a line.
_UNSAFE_BLOCK = re.compile("[\x00-\x09\x0b-\x1f\x7f\x85\u2028\u2029\ufeff]|[ \t]\n")


@dataclass
class KubernetesOutput:
    files: dict[str, str] = field(default_factory=dict)  # file name -> YAML text
    problems: list[Problem] = field(default_factory=list)


def _metadata(cfg: Config, name: str, labels: Mapping[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": cfg.kubernetes.namespace,
        "labels": dict(sorted({**MANAGED_BY, **labels}.items())),
    }


def _check_size(out: KubernetesOutput, file: str, text: str) -> None:
    size = len(text.encode())
    if size >= MAX_OBJECT_BYTES:
        out.problems.append(
            Problem(
                "kubernetes",
                f"kubernetes/{file}",
                f"is {size:,} bytes; Kubernetes objects must stay under {MAX_OBJECT_BYTES:,}",
            )
        )


def _rule_object(cfg: Config, name: str, groups: Sequence[RuleGroup]) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": _metadata(cfg, name, cfg.kubernetes.rule_labels),
        "spec": {"groups": [g.to_dict() for g in groups]},
    }


def _pack_groups(
    cfg: Config, name: str, groups: Sequence[RuleGroup], budget: int
) -> list[list[RuleGroup]]:
    """Groups in order, as few objects as keep each within ``budget`` bytes of JSON (what
    ``kubectl apply`` copies into its annotation). A group is never split: the order of its
    rules matters. A group above the budget alone gets an object of its own."""
    packs: list[list[RuleGroup]] = []
    for group in groups:
        if packs and _json_size(_rule_object(cfg, name, [*packs[-1], group])) <= budget:
            packs[-1].append(group)
        else:
            packs.append([group])
    return packs


def _json_size(obj: object) -> int:
    return len(json.dumps(obj, separators=(",", ":")).encode())


def prometheus_rules(
    cfg: Config,
    groups: Sequence[RuleGroup],
    out: KubernetesOutput,
    *,
    budget: int = APPLY_BUDGET,
) -> None:
    """One PrometheusRule per rule file (``<system>-<file>``), so objects map onto
    ``build/rules/``; a file too big for one object continues in ``<system>-<file>-2`` and
    on, split between groups."""
    by_file: dict[str, list[RuleGroup]] = {}
    for group in groups:
        by_file.setdefault(group.file, []).append(group)
    for file, file_groups in sorted(by_file.items()):
        name = f"{cfg.system}-{file}".replace("_", "-").lower()
        if len(name) > 250 or not _DNS_NAME.fullmatch(name):
            out.problems.append(
                Problem(
                    "kubernetes",
                    f"rules/{file}.yaml",
                    f"PrometheusRule name {name!r} is not a DNS name (use a-z, 0-9, '-')",
                )
            )
        for part, pack in enumerate(_pack_groups(cfg, name, file_groups, budget), start=1):
            suffix = "" if part == 1 else f"-{part}"
            target = f"prometheusrule-{file}{suffix}.yaml"
            out.files[target] = dump_yaml(_rule_object(cfg, name + suffix, pack))
            _check_size(out, target, out.files[target])


def _configmap_head(cfg: Config, index: int) -> str:
    metadata = _metadata(cfg, f"{cfg.system}-dashboards-{index}", cfg.kubernetes.dashboard_labels)
    if cfg.grafana is not None:
        # kube-prometheus-stack's sidecar files the dashboards under this folder when its
        # ``folderAnnotation`` is set to grafana_folder.
        metadata["annotations"] = {"grafana_folder": cfg.grafana.folder}
    return dump_yaml({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}) + "data:\n"


def _data_entry(key: str, text: str) -> str:
    """One ``data`` entry; JSON text as a ``|`` block, written directly.

    PyYAML's pure-Python emitter scans every character of a scalar and took most of the
    render time on ~100 KB dashboards. JSON from ``json.dumps(indent=2)`` is already safe
    for a literal block (no tabs, no trailing spaces, one line per line, starts with
    ``{``); anything else goes through the emitter.
    """
    if text.endswith("\n") and not text.endswith("\n\n") and not _UNSAFE_BLOCK.search(text):
        if text[:1] not in ("", " ", "#"):
            return f"  {key}: |\n" + "".join(f"    {line}\n" for line in text[:-1].split("\n"))
    # A JSON string is a valid YAML double-quoted scalar once YAML's extra line breaks
    # and non-printables are escaped too.
    quoted = _NON_PRINTABLE.sub(
        lambda m: f"\\u{ord(m.group()):04x}", json.dumps(text, ensure_ascii=False)
    )
    return f"  {key}: {quoted}\n"


def _configmap(head: str, entries: Sequence[str]) -> str:
    return head + "".join(entries)


def _apply_size(key: str, text: str) -> int:
    """Bytes this entry adds to kubectl's last-applied-configuration annotation (JSON)."""
    return len(json.dumps(key).encode()) + len(json.dumps(text).encode()) + 2


def dashboard_configmaps(cfg: Config, dashboards: Mapping[str, str], out: KubernetesOutput) -> None:
    """Pack ``{uid: JSON text}`` into ConfigMaps, in uid order.

    A ConfigMap must stay under 1 MiB; a dashboard that alone exceeds that cannot be
    shipped this way: that is a problem. Packs also stop at :data:`APPLY_BUDGET`, so a
    plain client-side ``kubectl apply`` (which copies the object into a 256 KiB
    annotation) works too; a single dashboard above that gets a ConfigMap of its own and
    needs ``kubectl apply --server-side``.
    """
    packs: list[list[str]] = []
    heads: list[str] = []
    sizes: list[int] = []  # bytes as written
    applied: list[int] = []  # bytes in the last-applied annotation
    for uid, text in sorted(dashboards.items()):
        key = f"{uid}.json"
        if not _CONFIGMAP_KEY.fullmatch(key):
            out.problems.append(
                Problem("kubernetes", f"dashboard {uid}", f"{key!r} is not a ConfigMap key")
            )
            continue
        entry = _data_entry(key, text)
        size = len(entry.encode())
        apply = _apply_size(key, text)
        if packs and sizes[-1] + size < MAX_OBJECT_BYTES and applied[-1] + apply <= APPLY_BUDGET:
            packs[-1].append(entry)
            sizes[-1] += size
            applied[-1] += apply
            continue
        head = _configmap_head(cfg, len(packs) + 1)
        if len(head.encode()) + size >= MAX_OBJECT_BYTES:
            out.problems.append(
                Problem(
                    "kubernetes",
                    f"dashboard {uid}",
                    f"is {len(text.encode()):,} bytes: too big for one ConfigMap "
                    f"(limit {MAX_OBJECT_BYTES:,}); split the dashboard",
                )
            )
            continue
        packs.append([entry])
        heads.append(head)
        sizes.append(len(head.encode()) + size)
        applied.append(apply)
    for index, (head, pack) in enumerate(zip(heads, packs, strict=True), start=1):
        out.files[f"configmap-dashboards-{index}.yaml"] = _configmap(head, pack)


def kustomization(files: Sequence[str]) -> str:
    """Lets a kustomize base include ``build/kubernetes`` as a resource directory."""
    return dump_yaml(
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": sorted(files),
        }
    )


def render(
    cfg: Config, groups: Sequence[RuleGroup], dashboards: Mapping[str, str]
) -> KubernetesOutput:
    """All of ``build/kubernetes/``: file name -> text, plus any problems found."""
    out = KubernetesOutput()
    prometheus_rules(cfg, groups, out)
    dashboard_configmaps(cfg, dashboards, out)
    monitors(cfg, out)
    out.files["kustomization.yaml"] = kustomization(list(out.files))
    alerts = {a.alert for g in groups for a in g.alerts}
    out.files[VALUES_FILE] = dump_yaml(stack_values.values(cfg, alerts))
    return out


def monitors(cfg: Config, out: KubernetesOutput) -> None:
    """A ServiceMonitor or PodMonitor per service and datastore exporter, labelled with
    ``kubernetes.monitor_labels`` so kube-prometheus-stack's selector picks it up."""
    for target in scrape.targets(cfg):
        name = f"{cfg.system}-{target.name}"
        if len(name) > 253 or not _DNS_NAME.fullmatch(name):
            out.problems.append(
                Problem("kubernetes", f"monitor {target.name}", f"{name!r} is not a DNS name")
            )
        obj = scrape.monitor(cfg, target, _metadata(cfg, name, cfg.kubernetes.monitor_labels))
        file = f"{obj['kind'].lower()}-{target.name}.yaml"
        out.files[file] = dump_yaml(obj)
