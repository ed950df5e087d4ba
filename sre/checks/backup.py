"""Pure backup verdicts: the ladder freshness -> size -> integrity -> restore.

Each step answers pass, fail or no-verdict (``Verdict``). A later step is only judged when
the earlier ones could be (there is no point checksumming a backup that does not exist).
The backups feature (``sre/features/backups``) gathers the facts (newest object, its size,
earlier sizes, digests, restore results) and these functions decide.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import median
from typing import Literal

Outcome = Literal["pass", "fail", "no_verdict"]


@dataclass(frozen=True)
class Verdict:
    step: str
    outcome: Outcome
    reason: str

    @property
    def passed(self) -> bool:
        return self.outcome == "pass"


def freshness(newest_at: float | None, *, now: float, max_age_seconds: float) -> Verdict:
    if newest_at is None:
        return Verdict("freshness", "fail", "no backup found")
    age = now - newest_at
    if age > max_age_seconds:
        return Verdict(
            "freshness",
            "fail",
            f"newest backup is {_hours(age)} old (max {_hours(max_age_seconds)})",
        )
    return Verdict("freshness", "pass", f"newest backup is {_hours(age)} old")


def size(
    size_bytes: int, earlier_sizes: Sequence[int], *, min_size_bytes: int, max_shrink_ratio: float
) -> Verdict:
    """At least ``min_size_bytes`` and not shrunk by more than ``max_shrink_ratio`` vs median."""
    if size_bytes <= 0:
        return Verdict("size", "fail", "backup is empty (0 bytes)")
    if size_bytes < min_size_bytes:
        return Verdict("size", "fail", f"{size_bytes} bytes is below the minimum {min_size_bytes}")
    if earlier_sizes:
        typical = median(earlier_sizes)
        if typical > 0 and size_bytes < typical * (1 - max_shrink_ratio):
            shrink = 1 - size_bytes / typical
            return Verdict(
                "size",
                "fail",
                f"{size_bytes} bytes is {shrink:.0%} smaller than the median of the "
                f"{len(earlier_sizes)} earlier backups ({typical:.0f} bytes)",
            )
    return Verdict("size", "pass", f"{size_bytes} bytes")


def integrity(expected_sha256: str | None, actual_sha256: str | None) -> Verdict:
    """Compare digests; without a published digest there is nothing to verify."""
    if expected_sha256 is None:
        return Verdict("integrity", "no_verdict", "no SHA-256 published for this backup")
    if actual_sha256 is None:
        return Verdict("integrity", "no_verdict", "backup could not be downloaded")
    if expected_sha256.strip().lower() != actual_sha256.lower():
        return Verdict(
            "integrity",
            "fail",
            f"SHA-256 mismatch: expected {expected_sha256[:12]}…, got {actual_sha256[:12]}…",
        )
    return Verdict("integrity", "pass", "SHA-256 matches")


def restore_check(
    sql: str,
    value: float | None,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    equals: float | None = None,
) -> Verdict:
    """One check query of a restore test against its bounds."""
    if value is None:
        return Verdict("restore", "fail", f"{sql!r} returned no value")
    if equals is not None and value != equals:
        return Verdict("restore", "fail", f"{sql!r} returned {value:g}, expected {equals:g}")
    if minimum is not None and value < minimum:
        return Verdict("restore", "fail", f"{sql!r} returned {value:g}, below {minimum:g}")
    if maximum is not None and value > maximum:
        return Verdict("restore", "fail", f"{sql!r} returned {value:g}, above {maximum:g}")
    return Verdict("restore", "pass", f"{sql!r} returned {value:g}")


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f}h"


# --------------------------------------------------------------------------- helpers

SIDECAR_SUFFIX = ".sha256"
_HEX64 = re.compile(r"\b([0-9a-fA-F]{64})\b")


@dataclass(frozen=True)
class Candidate:
    """One backup copy as listed (an S3 object or an RDS snapshot)."""

    name: str
    size_bytes: int | None
    created_at: float


def newest_and_earlier(
    copies: Sequence[Candidate], *, history: int = 10
) -> tuple[Candidate | None, list[int]]:
    """The newest copy and the sizes of up to ``history`` copies before it (newest first).

    Ties on time break on the name, so dated names (``2026-11-25.dump``) order as expected.
    """
    ordered = sorted(copies, key=lambda c: (c.created_at, c.name), reverse=True)
    if not ordered:
        return None, []
    earlier = [c.size_bytes for c in ordered[1 : history + 1] if c.size_bytes is not None]
    return ordered[0], earlier


def parse_sidecar(text: str) -> str | None:
    """The SHA-256 in a ``.sha256`` sidecar (``sha256sum`` output or a bare digest)."""
    match = _HEX64.search(text)
    return match.group(1).lower() if match else None


def not_judged(step: str, why: str) -> Verdict:
    return Verdict(step, "no_verdict", why)


def restore_verdict(error: str | None, checks: Sequence[Verdict]) -> Verdict:
    """The restore step from the restore itself and its check queries."""
    if error is not None:
        return Verdict("restore", "fail", error)
    failed = [v.reason for v in checks if v.outcome == "fail"]
    if failed:
        return Verdict("restore", "fail", "; ".join(failed))
    return Verdict("restore", "pass", f"restored, {len(checks)} check(s) passed")


def failing(outcomes: Mapping[str, str]) -> bool:
    """A backup is failing while any step's latest outcome is a fail."""
    return any(outcome == "fail" for outcome in outcomes.values())


def transition(was_failing: bool | None, now_failing: bool) -> str | None:
    """``failed`` / ``recovered`` on a change of state, else None (first sight of a healthy
    backup announces nothing; first sight of a failing one does)."""
    if now_failing and not was_failing:
        return "failed"
    if was_failing and not now_failing:
        return "recovered"
    return None
