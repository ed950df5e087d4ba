"""Pure: does Prometheus keep as much history as the rules read?

Prometheus reports its retention in ``/api/v1/status/runtimeinfo`` as ``storageRetention``:
the time limit in its own duration form (``15d``, ``1y``, ``2w3d``), the size limit
(``10GiB``), or both joined by `` or `` (whichever is reached first deletes data). The
daemon compares the time limit with the longest window a rule reads (range plus offset):
shorter means every figure over that window (the 30-day SLOs) is silently computed over
less. A size limit alone cannot be judged from the configuration (how long 10GiB lasts
depends on the ingest rate): no verdict; the ``PrometheusHistoryTooShort`` alert watches
what is actually held.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sre.config.durations import Duration

Outcome = Literal["pass", "fail", "no_verdict"]

# Prometheus' model.Duration units (a year is 365 days there).
_UNIT_SECONDS = {
    "y": 365 * 86400,
    "w": 7 * 86400,
    "d": 86400,
    "h": 3600,
    "m": 60,
    "s": 1,
    "ms": 0.001,
}
_DURATION = re.compile(r"(?:\d+(?:ms|y|w|d|h|m|s))+")
_DURATION_PART = re.compile(r"(\d+)(ms|y|w|d|h|m|s)")
_SIZE = re.compile(r"\d+(?:\.\d+)?(?:[KMGTPE]i?)?B")


@dataclass(frozen=True)
class Retention:
    text: str  # as Prometheus wrote it
    time_seconds: float | None  # None: no time limit
    size: str | None  # e.g. "10GiB"; None: no size limit


@dataclass(frozen=True)
class RetentionVerdict:
    outcome: Outcome
    reason: str


def parse_retention(text: object) -> Retention:
    """``storageRetention`` -> :class:`Retention`; ``ValueError`` naming what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"storageRetention is {text!r}, not a retention like '15d'")
    time_seconds: float | None = None
    size: str | None = None
    for part in (p.strip() for p in text.split(" or ")):
        if _DURATION.fullmatch(part) and time_seconds is None:
            time_seconds = sum(
                int(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(part)
            )
        elif _SIZE.fullmatch(part) and size is None:
            size = part
        else:
            raise ValueError(
                f"storageRetention {text!r}: {part!r} is neither a duration (15d) nor a size "
                "(10GiB)"
            )
    return Retention(text, time_seconds, size)


def span(seconds: float) -> str:
    """``2592000`` -> ``30d``, in the form the rules and sre.yaml use."""
    return str(Duration.of(seconds=seconds))


def judge_retention(retention: Retention, longest: Duration) -> RetentionVerdict:
    """Pass when the time retention covers ``longest``; fail when it is shorter; no verdict
    for a size limit alone."""
    if longest.milliseconds == 0:
        return RetentionVerdict("pass", "no rule reads a range of history")
    if retention.time_seconds is None:
        return RetentionVerdict(
            "no_verdict",
            f"Prometheus limits retention by size only ({retention.size}): how many days that "
            f"holds depends on the ingest rate; rules read up to {longest} "
            "(the PrometheusHistoryTooShort alert watches what it holds)",
        )
    kept = span(retention.time_seconds)
    if retention.time_seconds < longest.seconds:
        return RetentionVerdict(
            "fail",
            f"Prometheus keeps {kept} of history (storageRetention {retention.text!r}) but rules "
            f"read up to {longest}: every {longest} figure (SLOs, error budgets) is computed "
            f"over less; raise --storage.tsdb.retention.time to at least {longest}",
        )
    also = f"; the size limit {retention.size} may delete data sooner" if retention.size else ""
    return RetentionVerdict(
        "pass", f"Prometheus keeps {kept} of history, rules read up to {longest}{also}"
    )
