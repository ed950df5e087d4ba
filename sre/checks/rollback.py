"""Pure rollback decisions: three-state trigger verdicts, then the safety policy.

A trigger looks at samples of one series over the whole ``for`` window (a Prometheus range
query) and answers:

* ``fail``       every sample breaches the threshold and the samples cover the window
                 (they span ``for`` + the rate window: see :func:`window_verdict`);
* ``pass``       at least one sample is within the threshold;
* ``no_verdict`` with a reason when the data cannot support a decision: Prometheus
  unreachable, a query error, no data, NaN, too little traffic, or a window not yet covered.

Only ``fail`` can lead to a rollback, and only when the policy (:func:`decide`) allows it:
inside the deploy window, outside the cooldown, never twice for the same from-revision,
never without a previous revision, never while frozen after an earlier rollback.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Literal

Outcome = Literal["pass", "fail", "no_verdict"]
NO_VERDICT_REASONS = (
    "prometheus_unreachable",
    "query_error",
    "no_data",
    "nan",
    "low_traffic",
    "window_not_covered",
)


SWITCHED_OFF = "rollbacks are switched off globally"


@dataclass(frozen=True)
class TriggerVerdict:
    trigger: str  # error_rate | latency | health
    outcome: Outcome
    reason: str
    # What was seen: kept in the audit record and shown in Slack.
    query: str = ""
    threshold: float | None = None
    values: tuple[float, ...] = ()


def no_verdict(trigger: str, reason: str, query: str = "") -> TriggerVerdict:
    if reason not in NO_VERDICT_REASONS:
        raise ValueError(f"unknown no-verdict reason {reason!r}")
    return TriggerVerdict(trigger, "no_verdict", reason, query=query)


def window_verdict(
    trigger: str,
    samples: Sequence[tuple[float, float]],
    *,
    threshold: float,
    window_start: float,
    window_end: float,
    step: float,
    rate_window: float = 0.0,
    query: str = "",
    traffic: Sequence[tuple[float, float]] | None = None,
    min_traffic: float = 0.0,
) -> TriggerVerdict:
    """Judge ``samples`` (timestamp, value) against the ``for`` window
    ``[window_start, window_end]``; each sample is a ``rate()`` over ``rate_window``.

    A sample breaches as soon as its rate window holds a little of a burst: the first
    breaching sample may see only the burst's start at the end of its window, the last
    only the burst's end at the start of its window. So samples spanning S prove errors
    over more than S - ``rate_window``, and the window counts as covered only when the
    samples span at least ``for`` + ``rate_window``, the last is no earlier than two steps
    before ``window_end`` and no two are more than two steps apart: a burst shorter than
    ``for``, or a gap in the data, can never look like a sustained breach. (The range
    query therefore starts ``for`` + ``rate_window`` before its end.)
    """
    if not samples:
        return no_verdict(trigger, "no_data", query)
    values = tuple(v for _, v in samples)
    # Traffic first: with no requests a ratio is 0/0 = NaN, and that is "too little
    # traffic", not broken data. A NaN in the traffic itself is broken data.
    if traffic is not None:
        rates = [v for _, v in traffic]
        if any(math.isnan(r) for r in rates):
            return no_verdict(trigger, "nan", query)
        if not rates or any(r < min_traffic for r in rates):
            return no_verdict(trigger, "low_traffic", query)
    if any(math.isnan(v) or math.isinf(v) for v in values):
        return no_verdict(trigger, "nan", query)
    if any(v <= threshold for v in values):
        return TriggerVerdict(
            trigger, "pass", "within threshold", query=query, threshold=threshold, values=values
        )
    times = [t for t, _ in samples]
    gaps = [b - a for a, b in pairwise(times)]
    eps = 1e-6  # float timestamps
    too_short = times[-1] - times[0] < window_end - window_start + rate_window - eps
    ends_early = times[-1] < window_end - 2 * step - eps
    if too_short or ends_early or any(g > 2 * step + eps for g in gaps):
        return no_verdict(trigger, "window_not_covered", query)
    return TriggerVerdict(
        trigger,
        "fail",
        f"every sample above {threshold:g} for the whole window",
        query=query,
        threshold=threshold,
        values=values,
    )


def health_verdict(consecutive_failures: int | None, threshold: int) -> TriggerVerdict:
    if consecutive_failures is None:
        return no_verdict("health", "no_data")
    if consecutive_failures >= threshold:
        return TriggerVerdict(
            "health",
            "fail",
            f"{consecutive_failures} consecutive failed probes (threshold {threshold})",
            threshold=float(threshold),
            values=(float(consecutive_failures),),
        )
    return TriggerVerdict(
        "health",
        "pass",
        f"{consecutive_failures} consecutive failed probes",
        threshold=float(threshold),
        values=(float(consecutive_failures),),
    )


@dataclass(frozen=True)
class Revision:
    revision: str
    deployed_at: float  # epoch seconds
    previous: str | None  # the revision a rollback would return to


@dataclass(frozen=True)
class PolicyState:
    """What the store remembers about a service's rollbacks."""

    last_rollback_at: float | None = None
    rolled_back_from: frozenset[str] = field(default_factory=frozenset)  # idempotency keys
    frozen_until_new_revision: str | None = None  # the revision we rolled back *to*


@dataclass(frozen=True)
class Decision:
    action: Literal["none", "rollback", "dry_run"]
    reason: str
    trigger: str | None = None


def decide(
    verdicts: Sequence[TriggerVerdict],
    *,
    revision: Revision | None,
    state: PolicyState,
    now: float,
    after_deploy_seconds: float | None,
    cooldown_seconds: float,
    enabled: bool,
    dry_run: bool,
) -> Decision:
    """Apply the safety policy to the trigger verdicts. Only a ``fail`` can act."""
    failed = [v for v in verdicts if v.outcome == "fail"]
    if not failed:
        return Decision("none", "no trigger failed")
    trigger = failed[0].trigger
    if revision is None:
        return Decision("none", "current revision unknown", trigger)
    if state.frozen_until_new_revision == revision.revision:
        return Decision("none", f"frozen after a rollback to {revision.revision}", trigger)
    if revision.revision in state.rolled_back_from:
        return Decision("none", f"already rolled back from {revision.revision}", trigger)
    if revision.previous is None:
        return Decision("none", "no previous revision to roll back to", trigger)
    if after_deploy_seconds is not None and now - revision.deployed_at > after_deploy_seconds:
        return Decision("none", "outside the after_deploy window", trigger)
    if state.last_rollback_at is not None and now - state.last_rollback_at < cooldown_seconds:
        return Decision("none", "in cooldown after the last rollback", trigger)
    if not enabled:
        return Decision("none", SWITCHED_OFF, trigger)
    if dry_run:
        return Decision("dry_run", failed[0].reason, trigger)
    return Decision("rollback", failed[0].reason, trigger)


def probes_verdict(
    streaks: Sequence[tuple[bool | None, int, float | None]],
    threshold: int,
    deployed_at: float | None,
) -> TriggerVerdict:
    """Health over a service's probe targets: ``(up, consecutive_failures, since)`` each.

    Only a failing streak that began at or after the deploy counts: a target that was
    already down before the new revision appeared says nothing about that revision.
    """
    known = [s for s in streaks if s[0] is not None]
    if not known:
        return no_verdict("health", "no_data")
    worst = 0
    for up, failures, since in known:
        if up is False and (deployed_at is None or (since is not None and since >= deployed_at)):
            worst = max(worst, failures)
    return health_verdict(worst, threshold)
