"""Three-state rollback verdicts and the safety policy."""

from __future__ import annotations

import math

import pytest

from sre.checks.rollback import (
    PolicyState,
    Revision,
    TriggerVerdict,
    decide,
    health_verdict,
    window_verdict,
)

START = 1_000.0
STEP = 15.0
END = START + 8 * STEP


def series(values: list[float], start: float = START) -> list[tuple[float, float]]:
    return [(start + i * STEP, v) for i, v in enumerate(values)]


def judge(values: list[float], **kw: object) -> TriggerVerdict:
    return window_verdict(
        "error_rate",
        series(values),
        threshold=0.05,
        window_start=START,
        window_end=END,
        step=STEP,
        **kw,  # type: ignore[arg-type]
    )


def test_sustained_breach_fails() -> None:
    verdict = judge([0.2] * 9)
    assert verdict.outcome == "fail"
    assert verdict.values == (0.2,) * 9
    assert verdict.threshold == 0.05


def test_one_sample_within_threshold_passes() -> None:
    assert judge([0.2, 0.2, 0.01, 0.2, 0.2]).outcome == "pass"


def test_spike_shorter_than_window_does_not_fail() -> None:
    # Samples only exist for the end of the window: not covered, so no verdict.
    late = window_verdict(
        "error_rate",
        series([0.3, 0.3], start=START + 90),
        threshold=0.05,
        window_start=START,
        window_end=END,
        step=STEP,
    )
    assert (late.outcome, late.reason) == ("no_verdict", "window_not_covered")


def test_gap_in_data_is_no_verdict() -> None:
    samples = [(START, 0.3), (START + STEP, 0.3), (START + 5 * STEP, 0.3), (END, 0.3)]
    verdict = window_verdict(
        "error_rate", samples, threshold=0.05, window_start=START, window_end=END, step=STEP
    )
    assert verdict.reason == "window_not_covered"


def test_data_that_stops_before_the_end_is_no_verdict() -> None:
    assert judge([0.3] * 5).reason == "window_not_covered"


@pytest.mark.parametrize(
    ("values", "reason"),
    [([], "no_data"), ([0.2, math.nan, 0.2], "nan"), ([0.2, math.inf], "nan")],
)
def test_unclear_data_is_no_verdict(values: list[float], reason: str) -> None:
    verdict = judge(values)
    assert (verdict.outcome, verdict.reason) == ("no_verdict", reason)


def test_too_little_traffic_is_no_verdict() -> None:
    verdict = judge([1.0] * 9, traffic=series([0.01] * 9), min_traffic=0.1)
    assert (verdict.outcome, verdict.reason) == ("no_verdict", "low_traffic")
    enough = judge([1.0] * 9, traffic=series([5.0] * 9), min_traffic=0.1)
    assert enough.outcome == "fail"


def test_health_verdict() -> None:
    assert health_verdict(3, 3).outcome == "fail"
    assert health_verdict(2, 3).outcome == "pass"
    assert health_verdict(None, 3).reason == "no_data"


FAIL = TriggerVerdict("error_rate", "fail", "every sample above 0.05")
PASS = TriggerVerdict("error_rate", "pass", "within threshold")
NOW = 10_000.0
REV = Revision("7", deployed_at=NOW - 300, previous="6")


def policy(**overrides: object) -> str:
    args: dict[str, object] = {
        "verdicts": [FAIL],
        "revision": REV,
        "state": PolicyState(),
        "now": NOW,
        "after_deploy_seconds": 1800.0,
        "cooldown_seconds": 1800.0,
        "enabled": True,
        "dry_run": False,
    }
    args.update(overrides)
    decision = decide(**args)  # type: ignore[arg-type]
    return f"{decision.action}: {decision.reason}"


def test_policy_rolls_back_on_fail_in_window() -> None:
    assert policy() == "rollback: every sample above 0.05"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"verdicts": [PASS]}, "none: no trigger failed"),
        ({"verdicts": []}, "none: no trigger failed"),
        ({"revision": None}, "none: current revision unknown"),
        (
            {"revision": Revision("7", NOW - 300, None)},
            "none: no previous revision to roll back to",
        ),
        ({"revision": Revision("7", NOW - 7200, "6")}, "none: outside the after_deploy window"),
        (
            {"state": PolicyState(last_rollback_at=NOW - 60)},
            "none: in cooldown after the last rollback",
        ),
        (
            {"state": PolicyState(rolled_back_from=frozenset({"7"}))},
            "none: already rolled back from 7",
        ),
        (
            {"state": PolicyState(frozen_until_new_revision="7")},
            "none: frozen after a rollback to 7",
        ),
        ({"enabled": False}, "none: rollbacks are switched off globally"),
        ({"dry_run": True}, "dry_run: every sample above 0.05"),
    ],
)
def test_policy_safety(overrides: dict[str, object], expected: str) -> None:
    assert policy(**overrides) == expected


def test_without_after_deploy_the_policy_always_acts() -> None:
    old = Revision("7", deployed_at=NOW - 86_400 * 30, previous="6")
    assert policy(revision=old, after_deploy_seconds=None).startswith("rollback")


# A burst of 100% errors at constant traffic, as Prometheus answers the range query: each
# sample is the error ratio over the rate window ending at it (the burst's share of it).
FOR, RATE_WINDOW, PSTEP, PEND = 120.0, 60.0, 15.0, 100_000.0


def prometheus_like(burst: tuple[float, float]) -> list[tuple[float, float]]:
    span = FOR + RATE_WINDOW  # the engine's range: for + rate_window before the end
    times = [PEND - span + i * PSTEP for i in range(int(span // PSTEP) + 1)]
    s, e = burst
    return [(t, max(0.0, min(t, e) - max(t - RATE_WINDOW, s)) / RATE_WINDOW) for t in times]


def judge_burst(burst: tuple[float, float]) -> TriggerVerdict:
    return window_verdict(
        "error_rate",
        prometheus_like(burst),
        threshold=0.05,
        window_start=PEND - FOR,
        window_end=PEND,
        step=PSTEP,
        rate_window=RATE_WINDOW,
    )


def test_a_burst_just_under_for_never_fails_wherever_it_lies() -> None:
    # 115 s of 100% errors with for = 2m and rate_window = 1m: each rate sample breaches
    # (> 5%) with only 3 s of the burst in its window, yet no placement may fail.
    length = FOR - 5
    outcomes = set()
    for end in range(int(PEND - 400), int(PEND) + 1):
        verdict = judge_burst((end - length, float(end)))
        assert verdict.outcome != "fail", f"burst ending at {end - PEND:+.0f}s failed"
        outcomes.add(verdict.outcome)
    assert outcomes == {"pass"}


def test_a_burst_as_long_as_for_plus_the_rate_smear_fails() -> None:
    # Errors in every sample's window need > 5% of the first and the last window: a burst
    # of for + 2 * 3 s + a little, placed right, is a sustained breach.
    assert judge_burst((PEND - 180 - 4, PEND - 60 + 4)).outcome == "fail"
    assert judge_burst((PEND - 10_000, PEND)).outcome == "fail"


def test_samples_spanning_only_the_for_window_are_not_covered() -> None:
    # The range query used to start at now - for: a burst of 68 s made every one of those
    # samples breach. Samples over that short span never prove a sustained breach.
    samples = [(t, v) for t, v in prometheus_like((PEND - 124, PEND - 56)) if t >= PEND - FOR]
    assert all(v > 0.05 for _, v in samples)
    verdict = window_verdict(
        "error_rate",
        samples,
        threshold=0.05,
        window_start=PEND - FOR,
        window_end=PEND,
        step=PSTEP,
        rate_window=RATE_WINDOW,
    )
    assert (verdict.outcome, verdict.reason) == ("no_verdict", "window_not_covered")
