"""Resource alerts: node CPU, memory and disk (full, and predicted to fill), and the
platform's pods: crash loops, frequent restarts, OOM kills.

Pod alerts only watch the namespaces the config names (services and datastores), so a
crash loop elsewhere in the cluster pages someone else.
"""

from __future__ import annotations

from sre.config import Config
from sre.config.durations import Duration
from sre.model import Alert, RuleGroup
from sre.promql import num, one_of, seconds, sel

from ._common import AlertFactory

FILE = "resources"
DASHBOARD = "resources"
# Real filesystems only: tmpfs and container overlays come and go and fill by design.
REAL_FS = 'fstype!~"tmpfs|ramfs|overlay|squashfs|nsfs", mountpoint!=""'
# How far back predict_linear looks when it extrapolates disk usage.
FILL_LOOKBACK = "1h"


def namespaces(cfg: Config) -> str:
    return one_of(
        "namespace", [s.namespace for s in cfg.services] + [d.namespace for d in cfg.datastores]
    )


def node_alerts(cfg: Config, make: AlertFactory) -> list[Alert]:
    t = cfg.thresholds
    node = cfg.selectors.node
    fs = sel(node, REAL_FS)
    idle = sel(node, 'mode="idle"')
    return [
        make(
            "NodeHighCPU",
            f"1 - avg by (instance) (rate(node_cpu_seconds_total{idle}[5m]))"
            f" > {num(t.cpu_ratio_above)}",
            severity="warning",
            summary="A node's CPU is nearly saturated",
            description=(
                "{{ $labels.instance }} has used {{ $value | humanizePercentage }} of its CPU "
                f"for 15 minutes (threshold {num(t.cpu_ratio_above)})."
            ),
            for_=Duration.of(minutes=15),
            dashboard=DASHBOARD,
        ),
        make(
            "NodeHighMemory",
            f"1 - node_memory_MemAvailable_bytes{sel(node)}\n"
            f"  / node_memory_MemTotal_bytes{sel(node)} > {num(t.memory_ratio_above)}",
            severity="warning",
            summary="A node is running out of memory",
            description=(
                "{{ $labels.instance }} has used {{ $value | humanizePercentage }} of its "
                f"memory for 15 minutes (threshold {num(t.memory_ratio_above)})."
            ),
            for_=Duration.of(minutes=15),
            dashboard=DASHBOARD,
        ),
        make(
            "NodeDiskAlmostFull",
            f"1 - node_filesystem_avail_bytes{fs}\n"
            f"  / node_filesystem_size_bytes{fs} > {num(t.disk_ratio_above)}",
            severity="warning",
            summary="A node filesystem is almost full",
            description=(
                "{{ $labels.mountpoint }} on {{ $labels.instance }} is "
                "{{ $value | humanizePercentage }} full "
                f"(threshold {num(t.disk_ratio_above)})."
            ),
            for_=Duration.of(minutes=5),
            dashboard=DASHBOARD,
        ),
        make(
            "NodeDiskFillingUp",
            f"predict_linear(node_filesystem_avail_bytes{fs}[{FILL_LOOKBACK}], "
            f"{seconds(t.disk_fill_within)}) < 0",
            severity="critical",
            summary="A node filesystem is predicted to fill up soon",
            description=(
                "At the rate of the last " + FILL_LOOKBACK + ", {{ $labels.mountpoint }} on "
                "{{ $labels.instance }} will be full within "
                f"{t.disk_fill_within}."
            ),
            for_=Duration.of(minutes=10),
            dashboard=DASHBOARD,
        ),
    ]


def pod_alerts(cfg: Config, make: AlertFactory) -> list[Alert]:
    t = cfg.thresholds
    ksm = sel(cfg.selectors.kube_state_metrics, namespaces(cfg))
    restarts = f"kube_pod_container_status_restarts_total{ksm}"
    oom = sel(cfg.selectors.kube_state_metrics, namespaces(cfg), 'reason="OOMKilled"')
    waiting = sel(cfg.selectors.kube_state_metrics, namespaces(cfg), 'reason="CrashLoopBackOff"')
    return [
        make(
            "PodCrashLooping",
            f"max_over_time(kube_pod_container_status_waiting_reason{waiting}[5m]) >= 1",
            severity="critical",
            summary="A container is in CrashLoopBackOff",
            description=(
                "{{ $labels.namespace }}/{{ $labels.pod }} container {{ $labels.container }} "
                "has been crash looping for 15 minutes."
            ),
            for_=Duration.of(minutes=15),
            dashboard=DASHBOARD,
        ),
        make(
            "ContainerRestartingOften",
            f"increase({restarts}[1h]) > {num(t.restarts_per_hour_above)}",
            severity="warning",
            summary="A container restarts often",
            description=(
                "{{ $labels.namespace }}/{{ $labels.pod }} container {{ $labels.container }} "
                'restarted {{ $value | printf "%.0f" }} times in the last hour '
                f"(threshold {t.restarts_per_hour_above})."
            ),
            dashboard=DASHBOARD,
        ),
        make(
            "ContainerOOMKilled",
            f"(\n  {restarts}\n  - {restarts} offset 10m\n  >= 1\n)\n"
            "and ignoring (reason)\n"
            f"min_over_time(kube_pod_container_status_last_terminated_reason{oom}[10m]) == 1",
            severity="warning",
            summary="A container was killed for running out of memory",
            description=(
                "{{ $labels.namespace }}/{{ $labels.pod }} container {{ $labels.container }} "
                "was OOM-killed in the last 10 minutes."
            ),
            dashboard=DASHBOARD,
        ),
    ]


def groups(cfg: Config) -> list[RuleGroup]:
    make = AlertFactory(cfg)
    return [
        RuleGroup(f"{cfg.system}.nodes.alerts", FILE, tuple(node_alerts(cfg, make))),
        RuleGroup(f"{cfg.system}.pods.alerts", FILE, tuple(pod_alerts(cfg, make))),
    ]
