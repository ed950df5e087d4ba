"""2. Service performance: traffic, latency quantiles, errors by status code, saturation.

One service at a time (``$service``), its namespace (``$namespace``, hidden) from the
catalogue series of ``rules/thresholds.py``: nothing here grows with the number of services.
"""

from __future__ import annotations

from typing import Any

from dashboards import _annotations
from dashboards import _panels as P
from sre import catalog as C
from sre import promql
from sre.config import Config

SLUG = "service-performance"
_SVC = 'service=~"$service"'
_NAMESPACE = 'namespace=~"$namespace"'
# Pods of a Deployment are named <service>-<replicaset hash>-<pod hash>.
_POD = 'pod=~"$service-.*"'
_CONTAINER = 'container!=""'  # cAdvisor's per-pod totals have container=""
_ERROR_CODES = 'code=~"[45].."'


def _saturation(cfg: Config, usage: str, resource: str) -> str:
    """Per pod: usage / limit. ``usage`` is a cAdvisor expression summed by pod."""
    s = cfg.selectors
    res = f'resource="{resource}"'
    limit = promql.metric(
        "kube_pod_container_resource_limits", s.kube_state_metrics, _NAMESPACE, _POD, res
    )
    used = usage.format(sel=promql.sel(s.cadvisor, _NAMESPACE, _POD, _CONTAINER))
    return f"{used} / sum by (pod) ({limit})"


def build(cfg: Config) -> Any:
    s = cfg.selectors
    quantiles = [
        P.q(f"max by (service) ({promql.metric(rule, _SVC)})", f"{{{{service}}}} {name}")
        for name, rule in C.LATENCY_QUANTILES.items()
    ]
    buckets = promql.metric(C.HTTP_DURATION_BUCKET, s.applications, _SVC)
    cpu = _saturation(
        cfg, "sum by (pod) (rate(container_cpu_usage_seconds_total{sel}[$__rate_interval]))", "cpu"
    )
    memory = _saturation(cfg, "sum by (pod) (container_memory_working_set_bytes{sel})", "memory")
    panels = [
        P.row("Traffic"),
        P.timeseries(
            "Request rate",
            "Requests per second per service (all status codes), 5m rate.",
            "reqps",
            [P.q(f"sum by (service) ({promql.metric(C.REQUEST_RATE, _SVC)})", "{{service}}")],
        ),
        P.timeseries(
            "Error ratio (5xx)",
            "Share of 5xx responses per service, 5m rate. The red line is the 5% alert threshold.",
            "percentunit",
            [P.q(f"max by (service) ({promql.metric(C.ERROR_RATIO, _SVC)})", "{{service}}")],
            min_=0,
            steps=((P.GREEN, None), (P.RED, 0.05)),
            threshold_style="line",
        ),
        P.row("Latency"),
        P.timeseries(
            "Latency p50 / p95 / p99",
            "Request latency quantiles per service over 5m windows, from the histogram "
            f"{C.HTTP_DURATION}.",
            "s",
            quantiles,
            min_=0,
        ),
        P.heatmap(
            "Latency distribution",
            "Requests per second in each latency bucket, for the selected services.",
            "reqps",
            "s",
            P.Query(f"sum by (le) (rate({buckets}[$__rate_interval]))", format="heatmap"),
        ),
        P.row("Errors by status code"),
        P.timeseries(
            "Responses by status code",
            "Request rate per service and status code (stacked).",
            "reqps",
            [
                P.q(
                    f"sum by (service, code) ({promql.metric(C.CODE_RATE, _SVC)})",
                    "{{service}} {{code}}",
                )
            ],
            stack=True,
        ),
        P.timeseries(
            "Errors by status code",
            "Rate of 4xx and 5xx responses per service and status code.",
            "reqps",
            [
                P.q(
                    f"sum by (service, code) ({promql.metric(C.CODE_RATE, _SVC, _ERROR_CODES)})",
                    "{{service}} {{code}}",
                )
            ],
        ),
        P.row("Saturation"),
        P.timeseries(
            "CPU used / limit",
            "CPU use of each pod of the selected services as a share of its CPU limit "
            "(cAdvisor / kube-state-metrics). Above 90% the pod is being throttled.",
            "percentunit",
            [P.q(cpu, "{{pod}}")],
            min_=0,
            steps=((P.GREEN, None), (P.ORANGE, 0.8), (P.RED, 0.9)),
            threshold_style="line",
        ),
        P.timeseries(
            "Memory used / limit",
            "Working-set memory of each pod of the selected services as a share of its memory "
            "limit. At 100% the container is OOM-killed.",
            "percentunit",
            [P.q(memory, "{{pod}}")],
            min_=0,
            steps=((P.GREEN, None), (P.ORANGE, 0.8), (P.RED, 0.9)),
            threshold_style="line",
        ),
    ]
    return P.dashboard(
        cfg,
        SLUG,
        "Service performance",
        "Request rate, latency quantiles, errors by status code and saturation of one service.",
        panels,
        variables=[
            P.service_variable(multi=False),
            P.variable(
                "namespace",
                "Namespace",
                f"label_values({C.SERVICE_INFO}{{{_SVC}}}, namespace)",
                hidden=True,
            ),
        ],
        annotations=_annotations.events(cfg, service="service"),
    )
