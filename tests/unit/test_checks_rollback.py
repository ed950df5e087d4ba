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
