"""Reconcile's grace period: an alert missing from Alertmanager is resolved only after it
has been missing for the whole grace, and is forgotten the moment it shows up again."""

from __future__ import annotations

from sre.features.alerts.reconcile import MissingSince


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_resolved_only_after_missing_for_the_whole_grace() -> None:
    clock = Clock()
    missing = MissingSince(180, clock)
    assert missing.due("g", {"a", "b"}) == []
    assert missing.waiting() == 2
    clock.now += 179
    assert missing.due("g", {"a", "b"}) == []
    clock.now += 1
    assert missing.due("g", {"a", "b"}) == ["a", "b"]
    assert missing.waiting() == 0  # handed over once, not again at the next pass


def test_an_alert_that_shows_up_again_starts_over() -> None:
    clock = Clock()
    missing = MissingSince(60, clock)
    missing.due("g", {"a"})
    clock.now += 50
    assert missing.due("g", set()) == []  # Alertmanager lists it again
    clock.now += 50
    assert missing.due("g", {"a"}) == []  # missing again: a fresh grace
    clock.now += 59
    assert missing.due("g", {"a"}) == []
    clock.now += 1
    assert missing.due("g", {"a"}) == ["a"]


def test_groups_resolved_meanwhile_are_forgotten() -> None:
    clock = Clock()
    missing = MissingSince(60, clock)
    missing.due("g1", {"a"})
    missing.due("g2", {"b"})
    missing.keep_only(["g2"])
    assert missing.waiting() == 1
    clock.now += 60
    assert missing.due("g1", {"a"}) == []  # g1 fired again later: its grace starts now


def test_zero_grace_resolves_at_the_first_pass() -> None:
    assert MissingSince(0, Clock()).due("g", {"a"}) == ["a"]
