"""Slack request signing (``v0``): HMAC-SHA256 over ``v0:<timestamp>:<body>``.

See Slack's "Verifying requests from Slack". The clock is a parameter (pure code), and the
comparison is constant-time. A request older or newer than the replay window is rejected
even with a valid signature.
"""

from __future__ import annotations

import hashlib
import hmac

REPLAY_WINDOW_SECONDS = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    *,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
    window: float = REPLAY_WINDOW_SECONDS,
) -> str | None:
    """``None`` when the request is authentic, else a short reason (never the secret)."""
    if not timestamp or not signature:
        return "missing signature headers"
    if not (timestamp.isascii() and timestamp.isdigit()):
        return "timestamp is not an integer"
    if abs(now - int(timestamp)) > window:
        return "timestamp outside the 5-minute replay window"
    # Bytes, not str: compare_digest refuses non-ASCII text, and a header is client input.
    expected = sign(secret, timestamp, body).encode()
    if not hmac.compare_digest(expected, signature.encode("utf-8", "replace")):
        return "signature mismatch"
    return None
