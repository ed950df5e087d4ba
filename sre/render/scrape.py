"""Scrape configuration: ServiceMonitor/PodMonitor objects for kube-prometheus-stack and a
plain ``prometheus.yaml`` for setups without the operator. Pure.

Both set the labels the rules select on (``selectors.*`` in sre.yaml): every service's
targets get ``namespace`` and ``service`` (our name, whatever the Kubernetes Service is
called), every exporter the ``job`` its selector names. :func:`selector_problems` checks
that what we attach satisfies those selectors, so the rules cannot silently select nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from sre.config import Config, Datastore, Scrape, Service
from sre.config.alerting import parse_matcher
from sre.render.problems import Problem

_SELECTOR_ITEM = re.compile(
    r'\s*([a-zA-Z_][a-zA-Z0-9_]*\s*(?:=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*")\s*,?'
)
NAME_LABEL = "app.kubernetes.io/name"


@dataclass(frozen=True)
class Target:
    """One scrape job: who, where, and the labels the rules rely on."""

    name: str  # sre.yaml name: service or datastore
    namespace: str
    scrape: Scrape
    labels: dict[str, str] = field(default_factory=dict)  # set on every target
    selector: str = ""  # the PromQL matchers the rules use for these series
    app: str = ""  # app.kubernetes.io/name of its Service/Pods unless match_labels says

    def match_labels(self) -> dict[str, str]:
        return dict(self.scrape.match_labels) or {NAME_LABEL: self.app or self.name}


def selector_matchers(selector: str) -> list[tuple[str, str, str]]:
    """``a="b", c=~"d"`` -> [(a, =, b), (c, =~, d)]; ``ValueError`` for anything else."""
    found: list[tuple[str, str, str]] = []
    rest = selector.strip()
    while rest:
        item = _SELECTOR_ITEM.match(rest)
        if not item:
            raise ValueError(f"cannot read the selector {selector!r}")
        found.append(parse_matcher(item.group(1)))
        rest = rest[item.end() :].strip()
    return found


def _job(selector: str, default: str) -> str:
    try:
        matchers = selector_matchers(selector)
    except ValueError:
        return default
    return next((v for n, op, v in matchers if n == "job" and op == "="), default)


def targets(cfg: Config) -> list[Target]:
    out = [_service(cfg, s) for s in cfg.services]
    out += [_exporter(cfg, d) for d in cfg.datastores]
    return out


def _service(cfg: Config, svc: Service) -> Target:
    return Target(
        svc.name,
        svc.namespace,
        svc.metrics,
        {"namespace": svc.namespace, "service": svc.name},
        cfg.selectors.applications,
    )


def _exporter(cfg: Config, ds: Datastore) -> Target:
    base = cfg.selectors.postgres if ds.kind == "postgres" else cfg.selectors.redis
    selector = ", ".join(s for s in (base, ds.selector) if s)
    job = _job(base, f"{ds.kind}-exporter")
    labels = {"job": job, "namespace": ds.namespace}
    return Target(ds.name, ds.namespace, ds.exporter, labels, selector, f"{ds.name}-exporter")


def selector_problems(cfg: Config) -> list[Problem]:
    """Each target's fixed labels must not contradict the selector its rules use."""
    problems = []
    for target in targets(cfg):
        try:
            matchers = selector_matchers(target.selector)
        except ValueError as err:
            problems.append(Problem("scrape", f"scrape of {target.name}", str(err)))
            continue
        for name, op, value in matchers:
            if name not in target.labels:
                continue  # a label the exporter or the scrape sets (instance, ...)
            have = target.labels[name]
            ok = {
                "=": have == value,
                "!=": have != value,
                "=~": re.fullmatch(value, have) is not None,
                "!~": re.fullmatch(value, have) is None,
            }[op]
            if not ok:
                problems.append(
                    Problem(
                        "scrape",
                        f"scrape of {target.name}",
                        f'its targets get {name}="{have}", but the rules select {name}{op}'
                        f'"{value}" ({target.selector}): they would see none of its series',
                    )
                )
    return problems


# ------------------------------------------------------------------ kube-prometheus-stack


def _relabelings(target: Target) -> list[dict[str, Any]]:
    return [
        {"action": "replace", "targetLabel": name, "replacement": value}
        for name, value in sorted(target.labels.items())
        if name != "namespace"  # the operator sets it from the object's namespace
    ]


def monitor(cfg: Config, target: Target, metadata: dict[str, Any]) -> dict[str, Any]:
    """A ServiceMonitor (or PodMonitor) in the monitoring namespace that selects the
    target's objects in their own namespace."""
    endpoint: dict[str, Any] = {"port": target.scrape.port, "path": target.scrape.path}
    if target.scrape.interval is not None:
        endpoint["interval"] = str(target.scrape.interval)
    endpoint["relabelings"] = _relabelings(target)
    pod = target.scrape.kind == "pod"
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor" if pod else "ServiceMonitor",
        "metadata": metadata,
        "spec": {
            "namespaceSelector": {"matchNames": [target.namespace]},
            "selector": {"matchLabels": target.match_labels()},
            ("podMetricsEndpoints" if pod else "endpoints"): [endpoint],
        },
    }


# ------------------------------------------------------------------ plain Prometheus


def _host_port(url: str) -> str:
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return f"{parsed.hostname}:{port}"


def prometheus_config(cfg: Config, *, rule_files: str = "../rules/*.yaml") -> dict[str, Any]:
    """A prometheus.yaml: itself, every service and exporter (static targets where
    sre.yaml lists them, else file discovery under targets/<name>.json), the SRE daemon,
    the rule files and Alertmanager."""
    every = str(cfg.needs_prometheus().scrape_interval)
    jobs: list[dict[str, Any]] = [
        {
            "job_name": "prometheus",
            "static_configs": [{"targets": [_host_port(cfg.needs_prometheus().url)]}],
        }
    ]
    for target in targets(cfg):
        job: dict[str, Any] = {"job_name": target.name, "metrics_path": target.scrape.path}
        if target.scrape.interval is not None:
            job["scrape_interval"] = str(target.scrape.interval)
        if target.scrape.targets:
            job["static_configs"] = [{"targets": list(target.scrape.targets)}]
        else:
            job["file_sd_configs"] = [{"files": [f"targets/{target.name}.json"]}]
        job["relabel_configs"] = [
            {"action": "replace", "target_label": name, "replacement": value}
            for name, value in sorted(target.labels.items())
        ]
        jobs.append(job)
    jobs.append(_daemon_job(cfg))
    out: dict[str, Any] = {
        "global": {"scrape_interval": every, "evaluation_interval": every},
        "rule_files": [rule_files],
        "scrape_configs": jobs,
    }
    if cfg.alertmanager is not None:
        parsed = urlparse(cfg.alertmanager.url)
        manager: dict[str, Any] = {
            "scheme": parsed.scheme or "http",
            "static_configs": [{"targets": [_host_port(cfg.alertmanager.url)]}],
        }
        if parsed.path.strip("/"):
            manager["path_prefix"] = parsed.path
        out["alerting"] = {"alertmanagers": [manager]}
    return out


def _daemon_job(cfg: Config) -> dict[str, Any]:
    """The daemon's job name is what ``selectors.daemon`` names (its rules read it)."""
    name = _job(cfg.selectors.daemon, "sre-daemon")
    daemon_url = next((r.sre_daemon.url for r in _receivers(cfg) if r.sre_daemon is not None), None)
    job: dict[str, Any] = {"job_name": name}
    if daemon_url is not None:
        job["static_configs"] = [{"targets": [_host_port(daemon_url)]}]
    else:
        job["file_sd_configs"] = [{"files": ["targets/sre-daemon.json"]}]
    return job


def _receivers(cfg: Config) -> tuple[Any, ...]:
    return cfg.alertmanager.receivers if cfg.alertmanager is not None else ()
