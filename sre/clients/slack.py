"""Slack Web API (chat.postMessage / chat.update) through slack_sdk's ``AsyncWebClient``.

I/O only. Every failure becomes ``ClientError`` in ONE place, :func:`classify`: HTTP 5xx,
connection errors and timeouts are retryable, 429 is retryable with ``retry_after`` from its
``Retry-After``, and Slack's ``{"ok": false, "error": ...}`` answers (``channel_not_found``,
``invalid_auth``, ``not_in_channel`` ...) are permanent, with Slack's error in ``code``.
No call sleeps or retries by itself: the outbox decides when to try again
(``sre.clients.retry``), so a rate-limited message holds nothing while it waits.

:class:`ConsoleSink` has the same interface and writes log lines: the daemon runs without
Slack. Neither class ever logs or returns the token.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any, Protocol

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sre.clients import ClientError

log = logging.getLogger(__name__)
# slack_sdk formats a debug dump of every request when its logger has no level set.
_sdk_log = logging.getLogger("sre.clients.slack.sdk")
_sdk_log.setLevel(logging.INFO)

REQUEST_TIMEOUT = 10.0
DEFAULT_RETRY_AFTER = 1.0


class Poster(Protocol):
    """What the delivery worker needs: Slack or the console."""

    async def open(self) -> None: ...
    async def close(self) -> None: ...

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


def classify(err: BaseException) -> ClientError:
    """Slack's and the transport's errors -> ours (retryable or not). The one place."""
    if isinstance(err, SlackApiError):
        response = err.response
        status = int(getattr(response, "status_code", 0) or 0)
        data = getattr(response, "data", None)
        error = data.get("error") if isinstance(data, dict) else None
        code = str(error) if error else None
        if status == 429 or error == "ratelimited":
            wait = _retry_after(getattr(response, "headers", {}))
            return ClientError(
                "throttled",
                f"Slack rate limit, retry after {wait:.0f}s",
                retryable=True,
                retry_after=wait,
                code=code,
            )
        if status >= 500 or error in ("internal_error", "fatal_error", "service_unavailable"):
            return ClientError(
                "server_error", f"Slack answered HTTP {status}", retryable=True, code=code
            )
        if status != 200 and not error:
            return ClientError("bad_response", f"Slack answered HTTP {status}", retryable=False)
        reason = "auth" if error in ("invalid_auth", "not_authed", "account_inactive") else "api"
        return ClientError(reason, f"Slack error: {error or 'unknown'}", retryable=False, code=code)
    if isinstance(err, TimeoutError | aiohttp.ServerTimeoutError):
        return ClientError("timeout", "Slack request timed out", retryable=True)
    if isinstance(err, aiohttp.ClientError | OSError):
        return ClientError(
            "unreachable", f"Slack unreachable: {type(err).__name__}", retryable=True
        )
    return ClientError("bad_response", f"Slack call failed: {type(err).__name__}", retryable=False)


class SlackClient:
    """``chat.postMessage`` / ``chat.update`` with the bot token; see the module docstring."""

    def __init__(self, token: str, base_url: str | None = None) -> None:
        kwargs: dict[str, Any] = {"base_url": base_url} if base_url else {}
        self._client = AsyncWebClient(
            token=token,
            timeout=int(REQUEST_TIMEOUT),
            retry_handlers=[],  # no inline retries: the outbox retries (module docstring)
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
