"""Slack Web API (chat.postMessage / chat.update) through slack_sdk's ``AsyncWebClient``.

I/O only. Every failure becomes ``ClientError`` in ONE place, :func:`classify`: HTTP 5xx,
connection errors and timeouts are retryable, 429 is retryable after its ``Retry-After``,
and Slack's ``{"ok": false, "error": ...}`` answers (``channel_not_found``,
``invalid_auth``, ``not_in_channel`` ...) are permanent. Short 429 waits are absorbed inside
the call by ``AsyncRateLimitErrorRetryHandler``; longer ones come back as a ``ClientError``
with ``retry_after`` so the outbox, not a sleeping task, waits.

:class:`ConsoleSink` has the same interface and writes log lines: the daemon runs without
Slack. Neither class ever logs or returns the token.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any, Protocol

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from sre.clients import ClientError

log = logging.getLogger(__name__)
# slack_sdk formats a debug dump of every request when its logger has no level set.
_sdk_log = logging.getLogger("sre.clients.slack.sdk")
_sdk_log.setLevel(logging.INFO)

REQUEST_TIMEOUT = 10.0
INLINE_RETRY_AFTER_MAX = 2  # seconds a call may sleep itself on 429; longer waits go back
DEFAULT_RETRY_AFTER = 1.0


class SlackDelivery(ClientError):
    """A ``ClientError`` that may carry how long Slack asked us to wait."""

    def __init__(
        self, reason: str, message: str, *, retryable: bool, retry_after: float | None = None
    ) -> None:
        super().__init__(reason, message, retryable=retryable)
        self.retry_after = retry_after


class Poster(Protocol):
    """What the delivery worker needs: Slack or the console."""

    async def post(
        self, channel: str, message: dict[str, Any], *, thread_ts: str | None = None
    ) -> tuple[str, str]:
        """Post; return ``(channel_id, ts)`` to address the message later."""
        ...

    async def update(self, channel: str, ts: str, message: dict[str, Any]) -> None: ...


def _retry_after(headers: Any) -> float:
    try:
        return max(0.0, float(headers.get("Retry-After")))
    except (TypeError, ValueError, AttributeError):
        return DEFAULT_RETRY_AFTER


def classify(err: BaseException) -> SlackDelivery:
    """Slack's and the transport's errors -> ours (retryable or not). The one place."""
    if isinstance(err, SlackApiError):
        response = err.response
        status = int(getattr(response, "status_code", 0) or 0)
        data = getattr(response, "data", None)
        error = data.get("error") if isinstance(data, dict) else None
        if status == 429 or error == "ratelimited":
            wait = _retry_after(getattr(response, "headers", {}))
            return SlackDelivery(
                "throttled",
                f"Slack rate limit, retry after {wait:.0f}s",
                retryable=True,
                retry_after=wait,
            )
        if status >= 500 or error in ("internal_error", "fatal_error", "service_unavailable"):
            return SlackDelivery("server_error", f"Slack answered HTTP {status}", retryable=True)
        if status != 200 and not error:
            return SlackDelivery("bad_response", f"Slack answered HTTP {status}", retryable=False)
        reason = "auth" if error in ("invalid_auth", "not_authed", "account_inactive") else "api"
        return SlackDelivery(reason, f"Slack error: {error or 'unknown'}", retryable=False)
    if isinstance(err, TimeoutError | aiohttp.ServerTimeoutError):
        return SlackDelivery("timeout", "Slack request timed out", retryable=True)
    if isinstance(err, aiohttp.ClientError | OSError):
        return SlackDelivery(
            "unreachable", f"Slack unreachable: {type(err).__name__}", retryable=True
        )
    return SlackDelivery(
        "bad_response", f"Slack call failed: {type(err).__name__}", retryable=False
    )


def slack_error(err: ClientError) -> str | None:
    """The Slack ``error`` code of a permanent API error (``message_not_found``...)."""
    text = str(err)
    return text.removeprefix("Slack error: ") if text.startswith("Slack error: ") else None


class _ShortRateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """Sleep through a 429 only when Slack asks for a short wait."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        values = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), [])
        try:
            wait = float(values[0]) if values else DEFAULT_RETRY_AFTER
        except ValueError:
            return False
        return wait <= INLINE_RETRY_AFTER_MAX


class SlackClient:
    """``chat.postMessage`` / ``chat.update`` with the bot token; see the module docstring."""

    def __init__(self, token: str, base_url: str | None = None) -> None:
        handlers: list[AsyncRetryHandler] = [
            AsyncConnectionErrorRetryHandler(),
            _ShortRateLimitRetry(max_retry_count=1),
        ]
        kwargs: dict[str, Any] = {"base_url": base_url} if base_url else {}
        self._client = AsyncWebClient(
            token=token,
            timeout=int(REQUEST_TIMEOUT),
            retry_handlers=handlers,
            logger=_sdk_log,
            **kwargs,
        )
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        # Our own pooled session, with a per-request timeout (a shared one has none).
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT))
        self._client.session = self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._client.api_call(method, json=kwargs)
        except Exception as err:
            raise classify(err) from None
        data = response.data
        return data if isinstance(data, dict) else {}

    async def post(
        self, channel: str, message: dict[str, Any], *, thread_ts: str | None = None
    ) -> tuple[str, str]:
        extra = {"thread_ts": thread_ts} if thread_ts else {}
        data = await self._call("chat.postMessage", channel=channel, **message, **extra)
        return str(data.get("channel") or channel), str(data.get("ts", ""))

    async def update(self, channel: str, ts: str, message: dict[str, Any]) -> None:
        await self._call("chat.update", channel=channel, ts=ts, **message)


class ConsoleSink:
    """No Slack token configured: every message becomes one log line."""

    def __init__(self) -> None:
        self._ts = itertools.count(1)

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def post(
        self, channel: str, message: dict[str, Any], *, thread_ts: str | None = None
    ) -> tuple[str, str]:
        ts = f"console.{next(self._ts)}"
        where = f"{channel} (thread {thread_ts})" if thread_ts else channel
        log.info("notification to %s: %s", where, message.get("text", ""))
        return channel, ts

    async def update(self, channel: str, ts: str, message: dict[str, Any]) -> None:
        log.info("notification update %s %s: %s", channel, ts, message.get("text", ""))
