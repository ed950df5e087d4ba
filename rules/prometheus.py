"""The alerting pipeline watching itself: ``Watchdog`` (always firing; Alertmanager sends it
to the daemon's heartbeat, so silence means the pipeline is broken) and the retention
guard: Prometheus must hold at least as much history as the longest window a rule reads
(the 30-day SLO windows), or every 30-day figure is silently computed over less.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sre.config import Config
from sre.config.durations import Duration
from sre.model import Alert, RuleGroup
from sre.promql import seconds

from ._common import AlertFactory

FILE = "prometheus"
# A range selector or subquery ``[30d]`` / ``[1h:5m]``, and an ``offset 1w``.
_RANGE = re.compile(r"\[((?:\d+(?:ms|s|m|h|d|w))+)(?::[^\]]*)?\]")
_OFFSET = re.compile(r"\boffset\s+((?:\d+(?:ms|s|m|h|d|w))+)")
# Retention deletes whole blocks (2h and up); data that starts this long after the process
# did was deleted while it ran.
BLOCK = Duration.of(hours=2)


def longest_window(groups: Sequence[RuleGroup]) -> Duration:
    """The most history any rule reads: its longest range plus its longest offset."""
    longest = Duration(0)
    for group in groups:
        for rule in group.rules:
            ranges = [Duration.parse(m) for m in _RANGE.findall(rule.expr)]
            offsets = [Duration.parse(m) for m in _OFFSET.findall(rule.expr)]
            reads = (
                max(ranges, default=Duration(0)).milliseconds
                + max(offsets, default=Duration(0)).milliseconds
            )
            longest = max(longest, Duration(reads))
    return longest


def groups(cfg: Config, others: Sequence[RuleGroup]) -> list[RuleGroup]:
    make = AlertFactory(cfg)
    reads = longest_window(others)
    limit = seconds(reads)
    rules: list[Alert] = [
        make(
            "Watchdog",
            "vector(1)",
            severity="info",
            summary="Always firing: proves the alerting pipeline works end to end",
            description=(
                "Always firing ({{ $value }}). Alertmanager sends it to the SRE daemon's "
                "heartbeat; when it stops arriving, Prometheus, its rules or Alertmanager "
                "are broken."
            ),
            dashboard="sre-daemon",
        )
    ]
    if reads.milliseconds:
        rules += [
            make(
                "PrometheusRetentionTooShort",
                f"prometheus_tsdb_retention_limit_seconds > 0\n"
                f"and prometheus_tsdb_retention_limit_seconds < {limit}",
                severity="warning",
                summary="Prometheus keeps less history than the rules read",
                description=(
                    "Prometheus {{ $labels.instance }} keeps {{ $value | humanizeDuration }} "
                    f"of data, but rules read up to {reads}: every {reads} figure (SLOs, "
                    "error budgets) is computed over less than it says."
                ),
                for_=Duration.of(minutes=15),
                dashboard="slo",
            ),
            make(
                "PrometheusHistoryTooShort",
                f"time() - prometheus_tsdb_lowest_timestamp_seconds < {limit}\n"
                "and on (instance, job)\n"
                "prometheus_tsdb_lowest_timestamp_seconds - on (instance, job) "
                f"process_start_time_seconds > {seconds(BLOCK)}",
                severity="warning",
                summary="Prometheus deleted history that the rules still read",
                description=(
                    "Prometheus {{ $labels.instance }} holds only "
                    "{{ $value | humanizeDuration }} of data since it deleted older blocks "
                    f"(time or size retention), but rules read up to {reads}."
                ),
                for_=Duration.of(minutes=15),
                dashboard="slo",
            ),
        ]
    return [RuleGroup(f"{cfg.system}.prometheus.alerts", FILE, tuple(rules))]
