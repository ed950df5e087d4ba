"""The one retry policy: capped exponential backoff with jitter, or the wait the other
side asked for.

Every retry in the daemon goes through :class:`Backoff`: the outbox's next attempt
(``sre.features.alerts.delivery``) and the in-call retries of a client
(:func:`with_retries`, used for AWS). Whether to retry at all is the error's own field,
``ClientError.retryable``, set where the error is classified (one place per client).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from sre.clients import ClientError

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """``delay(n)``: ``min(cap, base * 2**n)`` scaled by a random factor in ``jitter``, or
    ``retry_after`` when the other side named a wait. ``n`` counts earlier failures."""

    base: float = 0.5
    cap: float = 60.0
    jitter: tuple[float, float] = (0.8, 1.2)

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return max(0.0, retry_after)
        raw = min(self.cap, self.base * 2 ** max(0, failures))
        low, high = self.jitter
        return float(raw * random.uniform(low, high))  # jitter, not crypto


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    attempts: int,
    backoff: Backoff,
    on_retry: Callable[[ClientError, int, float], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> T:
    """``await call()``, again after a retryable :class:`ClientError`, at most ``attempts``
    times in all; ``on_retry(error, attempt, delay)`` before each wait."""
    for attempt in range(1, max(1, attempts) + 1):
        try:
            return await call()
        except ClientError as err:
            if not err.retryable or attempt >= attempts:
                raise
            delay = backoff.delay(attempt - 1, err.retry_after)
            if on_retry is not None:
                on_retry(err, attempt, delay)
            await (sleep or asyncio.sleep)(delay)
    raise AssertionError("unreachable")  # pragma: no cover
