"""The retention check (the ``prometheus`` section): does Prometheus keep the history the
rules read?

At start (and so at every reload, which builds the features again) and then hourly, job
``prometheus.retention`` reads ``storageRetention`` from Prometheus'
``/api/v1/status/runtimeinfo`` and compares it with the longest window a rule reads
(``sre.checks.retention``). Shorter: one WARNING line naming both figures, and
``sre_prometheus_retention_short 1``. Prometheus unreachable or an answer that cannot be
read is a warning and no verdict, never a crash; the next run tries again. A finding is
logged when it changes, not every hour.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import CollectorRegistry

from sre.checks.retention import RetentionVerdict, judge_retention, parse_retention
from sre.clients import ClientError
from sre.clients.prometheus import PrometheusClient
from sre.config.durations import Duration
from sre.features.retention.metrics import RetentionMetrics
from sre.runtime.feature import Feature
from sre.runtime.jobs import JobSpec

log = logging.getLogger(__name__)

EVERY = Duration.of(hours=1)


class RetentionFeature(Feature):
    name = "retention"

    def __init__(
        self,
        prometheus: PrometheusClient,
        longest: Duration | None,
        *,
        unknown_because: str = "",
        registry: CollectorRegistry,
        every: Duration = EVERY,
    ) -> None:
        self.prometheus = prometheus
        self.longest = longest
        self.unknown_because = unknown_because
        self.every = every
        self.metrics = RetentionMetrics(registry)
        if longest is not None:
            self.metrics.longest_seconds = longest.seconds
        self._said: str | None = None

    def jobs(self) -> Sequence[JobSpec]:
        every = IntervalTrigger(seconds=self.every.seconds)
        # Read-only: every replica exports what Prometheus keeps (not only the leader).
        job = JobSpec("prometheus.retention", self.run, every, run_at_start=True, leader_only=False)
        return [job]

    async def run(self) -> None:
        await self.check()

    def _say(self, level: int, message: str) -> None:
        if message != self._said:
            log.log(level, "retention check: %s", message)
            self._said = message

    def _unknown(self, why: str) -> None:
        self.metrics.retention_seconds = None
        self.metrics.short = None
        self._say(logging.WARNING, why)

    async def check(self) -> RetentionVerdict | None:
        """One comparison; None when there is no verdict (said in the log)."""
        if self.longest is None:
            self._unknown(f"skipped, the longest window the rules read is unknown: "
                          f"{self.unknown_because}")  # fmt: skip
            return None
        where = self.prometheus.base_url
        try:
            info = await self.prometheus.runtime_info()
        except ClientError as err:
            self._unknown(f"cannot read the retention of Prometheus at {where} ({err.reason}): "
                          f"{err}; rules read up to {self.longest}")  # fmt: skip
            return None
        try:
            retention = parse_retention(info.get("storageRetention"))
        except ValueError as err:
            self._unknown(f"Prometheus at {where} answered a retention that cannot be read: {err}")
            return None
        verdict = judge_retention(retention, self.longest)
        self.metrics.retention_seconds = retention.time_seconds
        self.metrics.short = {"fail": True, "pass": False}.get(verdict.outcome)
        level = logging.INFO if verdict.outcome == "pass" else logging.WARNING
        self._say(level, verdict.reason)
        return verdict
