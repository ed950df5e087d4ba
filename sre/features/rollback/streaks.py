"""Evaluations without a verdict, in a row, per service: counted, logged once per change of
reason, and announced once when a streak reaches ``no_verdict_warn_after`` (a rollback
trigger that cannot decide protects nothing, and someone should know)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sre.checks.rollback import TriggerVerdict
from sre.features.rollback import notices
from sre.features.rollback.metrics import RollbackMetrics
from sre.runtime.notices import Notifier

log = logging.getLogger("sre.features.rollback.feature")


class NoVerdictStreaks:
    def __init__(self, metrics: RollbackMetrics, notifier: Notifier, warn_after: int) -> None:
        self.metrics = metrics
        self.notifier = notifier
        self.warn_after = warn_after
        self.reasons: dict[str, list[str]] = {}  # service -> no-verdict reasons in a row
        self.started: dict[str, float] = {}

    def reset(self) -> None:
        """A new leader term: a streak from an earlier term (hours ago) does not go on."""
        self.reasons.clear()
        self.started.clear()

    async def count(self, service: str, verdicts: Sequence[TriggerVerdict], now: float) -> None:
        failed = [v for v in verdicts if v.outcome == "fail"]
        unclear = [v for v in verdicts if v.outcome == "no_verdict"]
        if failed:
            verdict, reason = "fail", failed[0].trigger
        elif unclear:
            verdict, reason = "no_verdict", unclear[0].reason
        else:
            verdict, reason = "pass", "ok"
        self.metrics.evaluations.labels(service=service, verdict=verdict, reason=reason).inc()
        if verdict != "no_verdict":
            self.reasons.pop(service, None)
            return
        streak = self.reasons.setdefault(service, [])
        level = logging.INFO if not streak or streak[-1] != reason else logging.DEBUG
        if not streak:
            self.started[service] = now
        streak.append(reason)
        what = ", ".join(f"{v.trigger}: {v.reason}" for v in unclear)
        log.log(level, "%s: no verdict (%s), %d in a row", service, what, len(streak))
        if len(streak) == self.warn_after:
            key = f"rollback-no-verdict:{service}:{self.started[service]:.0f}"
            await self.notifier.notify(
                notices.no_verdict_warning(service, len(streak), streak, key)
            )
            log.warning("%s: %d evaluations in a row without a verdict", service, len(streak))
