"""One module per outside system, I/O only. Each turns its system's errors into ours."""

from __future__ import annotations


class ClientError(Exception):
    """A failure talking to an outside system.

    ``reason`` is a short, fixed, metric-label-safe word (``timeout``, ``unreachable``,
    ``auth``, ``throttled``, ``bad_response`` ...); ``retryable`` says whether trying the
    same call again later may succeed. Messages never contain secrets.
    """

    def __init__(self, reason: str, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.reason = reason
        self.retryable = retryable
