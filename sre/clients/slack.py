"""Slack Web API through slack_sdk's ``AsyncWebClient``: ``chat.postMessage`` (with message
metadata naming the post), ``chat.update``, and ``conversations.history`` / ``.replies`` to
find out whether a post whose answer never came did arrive (:meth:`SlackClient.find`).

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
FIND_PAGES = 5  # pages of history searched for a post that may have arrived


class Poster(Protocol):
    """What the delivery worker needs: Slack or the console."""

    async def open(self) -> None: ...
    async def close(self) -> None: ...

    async def post(
        self,
        channel: str,
        message: dict[str, Any],
        *,
        thread_ts: str | None = None,
        post_id: str | None = None,
    ) -> tuple[str, str]:
        """Post; return ``(channel_id, ts)`` to address the message later. ``post_id`` goes
        into the message's metadata, so :meth:`find` can tell whether it arrived."""
        ...

    async def update(self, channel: str, ts: str, message: dict[str, Any]) -> None: ...

    async def ephemeral(
        self, channel: str, user: str, text: str, *, thread_ts: str | None = None
    ) -> None:
        """A message only ``user`` sees in ``channel`` (a failed button, told to whoever
        pressed it). Slack keeps no copy: it cannot be looked up afterwards."""
        ...

    async def find(
        self, channel: str, post_id: str, *, since: float, thread_ts: str | None = None
    ) -> tuple[str, str] | None:
        """``(channel_id, ts)`` of the message posted with ``post_id`` at or after ``since``
        (in the thread ``thread_ts``), or None when Slack has no such message."""
        ...


def _retry_after(headers: Any) -> float:
    try:
        return max(0.0, float(headers.get("Retry-After")))
    except (TypeError, ValueError, AttributeError):
        return DEFAULT_RETRY_AFTER


# Failures after which Slack may have done what was asked (the request went out, no answer
# came back): a post is looked for before it is sent again.
MAYBE_DONE = frozenset({"timeout", "dropped", "server_error", "bad_response"})
METADATA_TYPE = "sre_delivery"  # message metadata event_type: {"post_id": ...}


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
    if isinstance(err, aiohttp.ClientConnectorError | ConnectionRefusedError):  # nothing sent
        return ClientError(
            "unreachable", f"Slack unreachable: {type(err).__name__}", retryable=True
        )
    if isinstance(err, aiohttp.ClientError | OSError):  # sent, then the connection broke
        return ClientError(
            "dropped", f"Slack connection lost: {type(err).__name__}", retryable=True
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
        self,
        channel: str,
        message: dict[str, Any],
        *,
        thread_ts: str | None = None,
        post_id: str | None = None,
    ) -> tuple[str, str]:
        extra: dict[str, Any] = {"thread_ts": thread_ts} if thread_ts else {}
        if post_id is not None:
            extra["metadata"] = {"event_type": METADATA_TYPE, "event_payload": {"post_id": post_id}}
        data = await self._call("chat.postMessage", channel=channel, **message, **extra)
        return str(data.get("channel") or channel), str(data.get("ts", ""))

    async def update(self, channel: str, ts: str, message: dict[str, Any]) -> None:
        await self._call("chat.update", channel=channel, ts=ts, **message)

    async def ephemeral(
        self, channel: str, user: str, text: str, *, thread_ts: str | None = None
    ) -> None:
        extra: dict[str, Any] = {"thread_ts": thread_ts} if thread_ts else {}
        await self._call("chat.postEphemeral", channel=channel, user=user, text=text, **extra)

    async def find(
        self, channel: str, post_id: str, *, since: float, thread_ts: str | None = None
    ) -> tuple[str, str] | None:
        method = "conversations.replies" if thread_ts else "conversations.history"
        args: dict[str, Any] = {"channel": channel, "include_all_metadata": True, "limit": 200}
        args |= {"ts": thread_ts} if thread_ts else {"oldest": f"{max(0.0, since - 5):.6f}"}
        for _ in range(FIND_PAGES):
            data = await self._call(method, **args)
            for found in data.get("messages") or []:
                meta = found.get("metadata") if isinstance(found, dict) else None
                payload = meta.get("event_payload") if isinstance(meta, dict) else None
                if isinstance(payload, dict) and payload.get("post_id") == post_id:
                    return channel, str(found.get("ts", ""))
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not data.get("has_more") or not cursor:
                return None
            args["cursor"] = cursor
        return None


class ConsoleSink:
    """No Slack token configured: every message becomes one log line."""

    def __init__(self) -> None:
        self._ts = itertools.count(1)

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def post(
        self,
        channel: str,
        message: dict[str, Any],
        *,
        thread_ts: str | None = None,
        post_id: str | None = None,
    ) -> tuple[str, str]:
        ts = f"console.{next(self._ts)}"
        where = f"{channel} (thread {thread_ts})" if thread_ts else channel
        log.info("notification to %s: %s", where, message.get("text", ""))
        return channel, ts

    async def update(self, channel: str, ts: str, message: dict[str, Any]) -> None:
        log.info("notification update %s %s: %s", channel, ts, message.get("text", ""))

    async def ephemeral(
        self, channel: str, user: str, text: str, *, thread_ts: str | None = None
    ) -> None:
        log.info("reply to %s in %s: %s", user, channel, text)

    async def find(
        self, channel: str, post_id: str, *, since: float, thread_ts: str | None = None
    ) -> tuple[str, str] | None:
        return None  # a log line is never lost, and never looked up
