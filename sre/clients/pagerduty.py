"""PagerDuty Events API v2 (``POST /v2/enqueue``). I/O only; errors become ``ClientError``.

One call, :meth:`PagerDutyClient.send`: an event (``event_action`` trigger / acknowledge /
resolve, ``dedup_key``, ``payload``) with the routing key added here, at the last moment,
so that it never sits in the state store or a log. PagerDuty's answers, as its Events API
overview documents them: 202 accepted; 400 the event is invalid (do not retry); 429 too
many events (retry after a while); 5xx and network errors (retry). A message never
contains the routing key: PagerDuty's own error text is scrubbed of it before it is kept.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from sre.clients import ClientError
from sre.clients.http import exchange

TIMEOUT = aiohttp.ClientTimeout(total=10)
# PagerDuty asks for "a backoff of a few minutes" after a 429.
THROTTLED_WAIT = 60.0


class PagerDutyClient:
    def __init__(self, url: str, routing_key: str, session: aiohttp.ClientSession) -> None:
        self.url = url
        self._key = routing_key
        self._session = session

    def __repr__(self) -> str:
        return f"PagerDutyClient({self.url!r}, routing_key=<redacted>)"

    async def send(self, event: dict[str, Any]) -> str:
        """Enqueue ``event`` (without ``routing_key``); PagerDuty's ``dedup_key`` for it."""
        body = {**event, "routing_key": self._key}
        status, text = await exchange(
            self._session,
            "POST",
            self.url,
            system=f"PagerDuty at {self.url}",
            json=body,
            timeout=TIMEOUT,
        )
        answer = _json(text)
        if status == 202:
            return str(answer.get("dedup_key") or event.get("dedup_key") or "")
        detail = self._scrub(_detail(answer, text, status))
        action = event.get("event_action", "event")
        if status == 429:
            raise ClientError(
                "throttled",
                f"PagerDuty throttled the {action}: {detail}",
                retryable=True,
                retry_after=THROTTLED_WAIT,
                code="429",
            )
        if status >= 500:
            raise ClientError(
                "server_error",
                f"PagerDuty failed on the {action}: {detail}",
                retryable=True,
                code=str(status),
            )
        reason = "auth" if status in (401, 403) else "bad_request"
        raise ClientError(
            reason, f"PagerDuty refused the {action}: {detail}", retryable=False, code=str(status)
        )

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "<routing key>") if self._key else text


def _json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _detail(answer: dict[str, Any], text: str, status: int) -> str:
    """``HTTP 400: Event object is invalid (Length of 'routing_key' is incorrect ...)``."""
    message = str(answer.get("message") or " ".join(text.split())[:200] or "no message")
    errors = answer.get("errors")
    if isinstance(errors, list) and errors:
        message += " (" + "; ".join(str(e) for e in errors[:3]) + ")"
    return f"HTTP {status}: {message[:300]}"
