"""3. Resources: CPU, memory, disk and network per node and per pod; restarts; OOM kills.

Sources: node_exporter (nodes), cAdvisor (containers) and kube-state-metrics (restarts,
termination reasons), each picked by its selector from ``sre.yaml``.
"""

from __future__ import annotations

from typing import Any

from dashboards import _panels as P
from sre import promql
from sre.config import Config

SLUG = "resources"
_INSTANCE = 'instance=~"$instance"'
_NAMESPACE = 'namespace=~"$namespace"'
_IDLE = 'mode="idle"'
_CONTAINER = 'container!=""'  # cAdvisor's per-pod totals have container=""
_REAL_FS = 'fstype!~"tmpfs|overlay|squashfs|ramfs"'
_REAL_NIC = 'device!~"lo|veth.*|cali.*|flannel.*|cni.*|docker.*"'
_OOM = 'reason="OOMKilled"'
_RATE = "[$__rate_interval]"
_BUSY = ((P.GREEN, None), (P.ORANGE, 0.8), (P.RED, 0.9))


def _node_panels(cfg: Config) -> list[Any]:
    node = cfg.selectors.node

    def m(name: str, *extra: str) -> str:
        return promql.metric(name, node, _INSTANCE, *extra)

    def net(direction: str) -> P.Query:
        name = f"node_network_{direction}_bytes_total"
        return P.q(
            f"sum by (instance) (rate({m(name, _REAL_NIC)}{_RATE}))", "{{instance}} " + direction
        )

    return [
        P.row("Nodes"),
        P.timeseries(
            "Node CPU utilisation",
            "Share of CPU time each node spent not idle (node_exporter).",
            "percentunit",
            [
                P.q(
                    f"1 - avg by (instance) (rate({m('node_cpu_seconds_total', _IDLE)}{_RATE}))",
                    "{{instance}}",
                )
            ],
            w=8,
            min_=0,
            max_=1,
            steps=_BUSY,
            threshold_style="line",
        ),
        P.timeseries(
            "Node memory utilisation",
            "Share of each node's memory not available to new work (1 - MemAvailable/MemTotal).",
            "percentunit",
            [
                P.q(
                    f"1 - {m('node_memory_MemAvailable_bytes')}"
                    f" / {m('node_memory_MemTotal_bytes')}",
                    "{{instance}}",
                )
            ],
            w=8,
            min_=0,
            max_=1,
            steps=_BUSY,
            threshold_style="line",
        ),
        P.timeseries(
            "Node disk utilisation",
            "Share of each real filesystem that is used, per node and mount point.",
            "percentunit",
            [
                P.q(
                    f"1 - {m('node_filesystem_avail_bytes', _REAL_FS)}"
                    f" / {m('node_filesystem_size_bytes', _REAL_FS)}",
                    "{{instance}} {{mountpoint}}",
                )
            ],
            w=8,
            min_=0,
            max_=1,
            steps=((P.GREEN, None), (P.ORANGE, 0.75), (P.RED, 0.85)),
            threshold_style="line",
        ),
        P.timeseries(
            "Node network traffic",
            "Bytes per second received and transmitted per node, physical interfaces only.",
            "Bps",
            [net("receive"), net("transmit")],
        ),
        P.timeseries(
            "Node disk I/O",
            "Bytes per second read from and written to block devices per node.",
            "Bps",
            [
                P.q(
                    f"sum by (instance) (rate({m('node_disk_read_bytes_total')}{_RATE}))",
                    "{{instance}} read",
                ),
                P.q(
                    f"sum by (instance) (rate({m('node_disk_written_bytes_total')}{_RATE}))",
                    "{{instance}} write",
                ),
            ],
        ),
    ]


def _pod_panels(cfg: Config) -> list[Any]:
    cadvisor = cfg.selectors.cadvisor

    def m(name: str, *extra: str) -> str:
        return promql.metric(name, cadvisor, _NAMESPACE, *extra)

    def by_pod(expr: str, legend: str = "{{namespace}}/{{pod}}") -> P.Query:
        return P.q(f"sum by (namespace, pod) ({expr})", legend)

    return [
        P.row("Pods"),
        P.timeseries(
            "Pod CPU",
            "CPU cores used per pod (cAdvisor, all containers of the pod).",
            "short",
            [by_pod(f"rate({m('container_cpu_usage_seconds_total', _CONTAINER)}{_RATE})")],
            w=8,
            min_=0,
        ),
        P.timeseries(
            "Pod memory",
            "Working-set memory per pod: what the kernel counts against the memory limit.",
            "bytes",
            [by_pod(m("container_memory_working_set_bytes", _CONTAINER))],
            w=8,
            min_=0,
        ),
        P.timeseries(
            "Pod filesystem usage",
            "Bytes each pod uses on its container filesystems (cAdvisor).",
            "bytes",
            [by_pod(m("container_fs_usage_bytes", _CONTAINER))],
            w=8,
            min_=0,
        ),
        P.timeseries(
            "Pod network traffic",
            "Bytes per second received (positive) and transmitted per pod.",
            "Bps",
            [
                by_pod(f"rate({m('container_network_receive_bytes_total')}{_RATE})", "{{pod}} rx"),
                by_pod(f"rate({m('container_network_transmit_bytes_total')}{_RATE})", "{{pod}} tx"),
            ],
        ),
        P.timeseries(
            "Pod disk I/O",
            "Bytes per second each pod reads from and writes to its filesystems.",
            "Bps",
            [
                by_pod(
                    f"rate({m('container_fs_reads_bytes_total', _CONTAINER)}{_RATE})",
                    "{{pod}} read",
                ),
                by_pod(
                    f"rate({m('container_fs_writes_bytes_total', _CONTAINER)}{_RATE})",
                    "{{pod}} write",
                ),
            ],
        ),
    ]


def _restart_panels(cfg: Config) -> list[Any]:
    s = cfg.selectors
    restarts = promql.metric(
        "kube_pod_container_status_restarts_total", s.kube_state_metrics, _NAMESPACE
    )
    oom_reason = promql.metric(
        "kube_pod_container_status_last_terminated_reason", s.kube_state_metrics, _NAMESPACE, _OOM
    )
    oom_events = promql.metric("container_oom_events_total", s.cadvisor, _NAMESPACE, _CONTAINER)
    return [
        P.row("Restarts and OOM kills"),
        P.timeseries(
            "Container restarts",
            "Container restarts per pod and container in each interval (kube-state-metrics).",
            "short",
            [
                P.q(
                    "sum by (namespace, pod, container) "
                    f"(increase({restarts}[$__rate_interval])) > 0",
                    "{{pod}}/{{container}}",
                )
            ],
            bars=True,
            min_=0,
        ),
        P.table(
            "Restarts in the time range",
            "Containers that restarted during the selected time range, most first.",
            "short",
            [
                P.instant(
                    "sort_desc(sum by (namespace, pod, container) "
                    f"(increase({restarts}[$__range])) > 0)"
                )
            ],
            columns=[P.Column("Restarts", "short", ((P.GREEN, None), (P.ORANGE, 1), (P.RED, 3)))],
        ),
        P.timeseries(
            "OOM kills",
            "Out-of-memory kills per pod and container in each interval (cAdvisor).",
            "short",
            [
                P.q(
                    "sum by (namespace, pod, container) "
                    f"(increase({oom_events}[$__rate_interval])) > 0",
                    "{{pod}}/{{container}}",
                )
            ],
            bars=True,
            min_=0,
        ),
        P.table(
            "Last terminated by OOM",
            "Containers whose last termination was an OOM kill (kube-state-metrics), "
            "with their restarts in the time range.",
            "short",
            [
                P.instant(
                    f"sum by (namespace, pod, container) (increase({restarts}[$__range]))"
                    " * on (namespace, pod, container) group_left"
                    f" max by (namespace, pod, container) ({oom_reason})"
                    " > 0"
                )
            ],
            columns=[P.Column("Restarts", "short", ((P.ORANGE, None), (P.RED, 3)))],
        ),
    ]


def build(cfg: Config) -> Any:
    s = cfg.selectors
    return P.dashboard(
        cfg,
        SLUG,
        "Resources",
        "CPU, memory, disk and network per node and pod; container restarts and OOM kills.",
        _node_panels(cfg) + _pod_panels(cfg) + _restart_panels(cfg),
        variables=[
            P.variable(
                "instance",
                "Node",
                f"label_values({promql.metric('node_uname_info', s.node)}, instance)",
            ),
            P.variable(
                "namespace",
                "Namespace",
                f"label_values({promql.metric('kube_pod_info', s.kube_state_metrics)}, namespace)",
            ),
        ],
    )
