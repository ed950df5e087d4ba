"""Durations as Prometheus writes them: ``30s``, ``2m``, ``1h30m``, ``26h``, ``3d``.

One type serves both halves of the product: the rules render it back into PromQL
(``str(d)`` gives the canonical Prometheus form) and the daemon reads ``.seconds``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import timedelta

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_WHOLE = re.compile(r"(?:\d+(?:ms|s|m|h|d|w))+")


@dataclass(frozen=True, order=True, slots=True)
class Duration:
    """A non-negative span of time with millisecond precision."""

    milliseconds: int

    @classmethod
    @functools.lru_cache(maxsize=1024)  # a config of 30,000 probes says "15s" 30,000 times
    def parse(cls, text: str) -> Duration:
        """Parse ``"2m"`` or ``"1h30m"``; raise ``ValueError`` with a readable reason."""
        cleaned = text.strip()
        if not _WHOLE.fullmatch(cleaned):
            raise ValueError(f"{text!r} is not a duration (use e.g. 30s, 2m, 1h30m, 26h, 3d)")
        total = sum(int(n) * _UNITS_MS[unit] for n, unit in _PART.findall(cleaned))
        return cls(total)

    @classmethod
    def of(cls, *, seconds: float = 0, minutes: float = 0, hours: float = 0) -> Duration:
        return cls(round((seconds + minutes * 60 + hours * 3600) * 1000))

    @property
    def seconds(self) -> float:
        return self.milliseconds / 1000

    @property
    def timedelta(self) -> timedelta:
        return timedelta(milliseconds=self.milliseconds)

    def __str__(self) -> str:
        """The canonical Prometheus form: largest units first, ``0s`` for zero."""
        if self.milliseconds == 0:
            return "0s"
        rest = self.milliseconds
        parts = []
        for unit in ("d", "h", "m", "s", "ms"):
            size = _UNITS_MS[unit]
            count, rest = divmod(rest, size)
            if count:
                parts.append(f"{count}{unit}")
        return "".join(parts)
