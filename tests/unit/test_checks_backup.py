"""The backup verdict ladder: fresh, stale, empty, shrunken, corrupted, restore checks."""

from __future__ import annotations

import hashlib

import pytest

from sre.checks import backup

HOUR = 3600.0
NOW = 1_800_000_000.0


def test_fresh_and_stale() -> None:
    fresh = backup.freshness(NOW - 2 * HOUR, now=NOW, max_age_seconds=26 * HOUR)
    assert (fresh.outcome, fresh.reason) == ("pass", "newest backup is 2.0h old")
    stale = backup.freshness(NOW - 30 * HOUR, now=NOW, max_age_seconds=26 * HOUR)
    assert (stale.outcome, stale.reason) == (
        "fail",
        "newest backup is 30.0h old (max 26.0h)",
    )
    missing = backup.freshness(None, now=NOW, max_age_seconds=26 * HOUR)
    assert (missing.outcome, missing.reason) == ("fail", "no backup found")


@pytest.mark.parametrize(
    ("size_bytes", "earlier", "outcome", "reason"),
    [
        (0, [], "fail", "backup is empty (0 bytes)"),
        (500, [], "fail", "500 bytes is below the minimum 1000"),
        (
            4000,
            [10_000, 9_000, 11_000],
            "fail",
            "4000 bytes is 60% smaller than the median of the 3 earlier backups (10000 bytes)",
        ),
        (6000, [10_000, 9_000, 11_000], "pass", "6000 bytes"),
        (2000, [], "pass", "2000 bytes"),
    ],
)
def test_size(size_bytes: int, earlier: list[int], outcome: str, reason: str) -> None:
    verdict = backup.size(size_bytes, earlier, min_size_bytes=1000, max_shrink_ratio=0.5)
    assert (verdict.outcome, verdict.reason) == (outcome, reason)


def test_integrity() -> None:
    body = b"pg_dump bytes"
    good = hashlib.sha256(body).hexdigest()
    assert backup.integrity(good.upper(), good).outcome == "pass"
    corrupt = backup.integrity(good, hashlib.sha256(body + b"!").hexdigest())
    assert corrupt.outcome == "fail"
    assert corrupt.reason.startswith("SHA-256 mismatch: expected " + good[:12])
    assert backup.integrity(None, good).outcome == "no_verdict"


def test_restore_checks() -> None:
    assert backup.restore_check("select 1", 5, minimum=1).passed
    low = backup.restore_check("select count(*) from users", 0, minimum=1)
    assert (low.outcome, low.reason) == (
        "fail",
        "'select count(*) from users' returned 0, below 1",
    )
    assert backup.restore_check("q", 7, equals=7).passed
    assert backup.restore_check("q", 8, equals=7).outcome == "fail"
    assert backup.restore_check("q", 11, maximum=10).outcome == "fail"
    assert backup.restore_check("q", None, minimum=1).reason == "'q' returned no value"
