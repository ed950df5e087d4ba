"""Pacing Slack calls to Slack's documented rate limits, one lane per limit.

Slack limits ``chat.postMessage`` to about one message per second *per channel* (short
bursts allowed) and other methods per method per workspace (``chat.update`` and
``conversations.*`` are Tier 3: 50+ a minute; ``chat.postEphemeral`` Tier 4: 100+). Each
limit is a token bucket here, keyed ``post:<channel>``, ``update``, ``read`` or ``reply``: a
call is only started when its bucket has a token, so a rate-limited channel waits without
holding anything others need. When Slack still answers 429, only that key waits for its
``Retry-After``: one channel's 429 never slows another.
"""

from __future__ import annotations

from dataclasses import dataclass, field

POST, UPDATE, READ, REPLY = "post", "update", "read", "reply"


@dataclass(frozen=True)
class Rate:
    per_second: float
    burst: float


# A little under Slack's documented rates, so that steady traffic does not meet 429s.
DEFAULT_RATES = {
    POST: Rate(per_second=1.0, burst=2.0),
    UPDATE: Rate(per_second=45 / 60, burst=5.0),
    READ: Rate(per_second=45 / 60, burst=5.0),
    REPLY: Rate(per_second=90 / 60, burst=10.0),
}


@dataclass
class _Bucket:
    rate: Rate
    tokens: float
    at: float
    blocked_until: float = 0.0


@dataclass
class Pacer:
    """Token buckets per key; ``now`` is a monotonic clock reading, passed in (pure)."""

    rates: dict[str, Rate] = field(default_factory=lambda: dict(DEFAULT_RATES))
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    @staticmethod
    def key(call: str, channel: str | None = None) -> str:
        return f"{POST}:{channel}" if call == POST else call

    def rate(self, key: str) -> Rate:
        return self.rates[key.split(":", 1)[0]]

    def _bucket(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            rate = self.rate(key)
            bucket = self._buckets[key] = _Bucket(rate, rate.burst, now)
        elapsed = max(0.0, now - bucket.at)
        bucket.tokens = min(bucket.rate.burst, bucket.tokens + elapsed * bucket.rate.per_second)
        bucket.at = now
        return bucket

    def ready_at(self, key: str, now: float) -> float:
        """When a call on ``key`` may start: ``now`` or later."""
        bucket = self._bucket(key, now)
        refill = max(0.0, (1 - bucket.tokens) / bucket.rate.per_second)
        return max(now + refill, bucket.blocked_until)

    def take(self, key: str, now: float) -> bool:
        """Take a token when one is there (and the key is not blocked); True when taken."""
        if self.ready_at(key, now) > now:
            return False
        self._bucket(key, now).tokens -= 1
        return True

    def blocked(self, key: str, seconds: float, now: float) -> None:
        """Slack answered 429: nothing on ``key`` before ``seconds`` have passed."""
        bucket = self._bucket(key, now)
        bucket.blocked_until = max(bucket.blocked_until, now + seconds)
        bucket.tokens = min(bucket.tokens, 0.0)

    def drain_seconds(self, key: str, calls: int) -> float:
        """How long ``calls`` calls on ``key`` take at its steady rate."""
        return calls / self.rate(key).per_second
