"""The deploy gate's decision (``python -m sre.daemon verify``), from the rollback verdicts.

The gate evaluates a service's rollback triggers (``sre.checks.rollback``: the same
three-state verdicts the auto-rollback acts on) again and again over a window after a
deploy, and answers with an exit code:

* ``FAIL`` (1) as soon as one evaluation has a trigger that failed;
* ``PASS`` (0) when the window is over, nothing failed and every trigger passed at the
  last evaluation;
* ``NO_VERDICT`` (3) when the window is over and a trigger could not decide at the last
  evaluation (no traffic, no data, Prometheus unreachable...): the line says which.

Also the one-line text of a set of verdicts with their numbers, shared by the gate's
output and the deploy threads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sre.checks.rollback import TriggerVerdict

PASS, FAIL, NO_VERDICT = 0, 1, 3
USAGE = 2

# What each no-verdict reason means, for people.
REASON_TEXT = {
    "prometheus_unreachable": "Prometheus unreachable",
    "query_error": "the query failed",
    "no_data": "no data",
    "nan": "NaN in the data",
    "low_traffic": "no traffic",
    "window_not_covered": "too few samples to cover the window",
}


@dataclass(frozen=True)
class GateResult:
    code: int  # PASS | FAIL | NO_VERDICT
    line: str  # one line: the verdict, the reason and the numbers


def _num(value: float) -> str:
    return f"{value:.4g}"


def describe(v: TriggerVerdict) -> str:
    """``error_rate fail: every sample above 0.05 ... (min 0.19, max 0.21, threshold 0.05)``."""
    if v.outcome == "no_verdict":
        return f"{v.trigger} no verdict: {REASON_TEXT.get(v.reason, v.reason)}"
    if v.trigger == "health":  # its reason names the count and the threshold
        return f"{v.trigger} {v.outcome}: {v.reason}"
    numbers = []
    if v.values:
        numbers += [f"min {_num(min(v.values))}", f"max {_num(max(v.values))}"]
    if v.threshold is not None:
        numbers.append(f"threshold {_num(v.threshold)}")
    tail = f" ({', '.join(numbers)})" if numbers else ""
    return f"{v.trigger} {v.outcome}: {v.reason}{tail}"


def summary(verdicts: Sequence[TriggerVerdict]) -> str:
    """Every verdict on one line, failures first (what matters leads)."""
    order = {"fail": 0, "no_verdict": 1, "pass": 2}
    ranked = sorted(verdicts, key=lambda v: order[v.outcome])
    return "; ".join(describe(v) for v in ranked) or "no triggers"


def overall(verdicts: Sequence[TriggerVerdict]) -> tuple[str, str]:
    """``(outcome, reason)`` of a set of verdicts, as the rollback metrics count them:
    a fail wins, then a no-verdict (its reason), else pass."""
    failed = [v for v in verdicts if v.outcome == "fail"]
    if failed:
        return "fail", failed[0].trigger
    unclear = [v for v in verdicts if v.outcome == "no_verdict"]
    if unclear:
        return "no_verdict", unclear[0].reason
    return ("pass", "ok") if verdicts else ("no_verdict", "no_data")


def evaluation(
    service: str, verdicts: Sequence[TriggerVerdict], *, elapsed: float
) -> GateResult | None:
    """One evaluation inside the window: a FAIL result at once, else None (go on)."""
    failed = [v for v in verdicts if v.outcome == "fail"]
    if not failed:
        return None
    return GateResult(FAIL, f"FAIL {service} after {elapsed:.0f}s: {summary(verdicts)}")


def final(
    service: str,
    verdicts: Sequence[TriggerVerdict],
    *,
    window: float,
    evaluations: int,
    passed: int,
    sources: Mapping[str, str] | None = None,
) -> GateResult:
    """The answer at the end of the window from its last evaluation. ``sources`` adds
    detail to a no-verdict reason (``{"prometheus_unreachable": " at http://..."}``)."""
    failed = evaluation(service, verdicts, elapsed=window)
    if failed is not None:
        return failed
    seen = f"{passed}/{evaluations} evaluations passed"
    if verdicts and all(v.outcome == "pass" for v in verdicts):
        return GateResult(PASS, f"PASS {service} over {window:.0f}s ({seen}): {summary(verdicts)}")
    if not verdicts:
        return GateResult(NO_VERDICT, f"NO VERDICT {service}: no trigger gave a verdict")
    by_reason: dict[str, list[str]] = {}
    for v in verdicts:
        if v.outcome == "no_verdict":
            by_reason.setdefault(v.reason, []).append(v.trigger)
    extra = dict(sources or {})
    why = "; ".join(
        f"{REASON_TEXT.get(r, r)}{extra.get(r, '')} ({', '.join(t)})" for r, t in by_reason.items()
    )
    return GateResult(NO_VERDICT, f"NO VERDICT {service} after {window:.0f}s ({seen}): {why}")
