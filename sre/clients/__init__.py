"""One module per outside system, I/O only. Each turns its system's errors into ours."""

from __future__ import annotations


class ClientError(Exception):
    """A failure talking to an outside system; its details are fields, never parsed text.

    ``reason`` is a short, fixed, metric-label-safe word (``timeout``, ``unreachable``,
    ``auth``, ``throttled``, ``bad_response`` ...); ``retryable`` says whether trying the
    same call again later may succeed; ``retry_after`` is how long the system asked us to
    wait (seconds, e.g. Slack's ``Retry-After``); ``code`` is the system's own error code
    where it has one (Slack's ``message_not_found``, an AWS error code). Messages never
    contain secrets. When to try again is decided in one place: ``sre.clients.retry``.
    """

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after
        self.code = code
