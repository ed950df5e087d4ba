"""Alertmanager API v2: read active alerts, create silences. I/O only; errors -> ClientError."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp

from sre.clients import ClientError
from sre.clients.http import exchange

TIMEOUT = aiohttp.ClientTimeout(total=10)


def _rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


class AlertmanagerClient:
    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        status, text = await exchange(
            self._session,
            method,
            f"{self.base_url}{path}",
            system=f"Alertmanager at {self.base_url}",
            timeout=TIMEOUT,
            **kwargs,
        )
        if status >= 300:
            detail = " ".join(text.split())[:200] or f"HTTP {status}"
            raise ClientError(
                "bad_response",
                f"Alertmanager {path} answered {status}: {detail}",
                retryable=status >= 500,
            )
        try:
            return json.loads(text)
        except ValueError:
            raise ClientError(
                "bad_response", f"Alertmanager {path}: not JSON", retryable=False
            ) from None

    async def alerts(self) -> list[dict[str, Any]]:
        """Every active alert (silenced and inhibited included): GET /api/v2/alerts."""
        data = await self._request(
            "GET",
            "/api/v2/alerts",
            params={"active": "true", "silenced": "true", "inhibited": "true"},
        )
        if not isinstance(data, list):
            raise ClientError("bad_response", "Alertmanager alerts: not a list", retryable=False)
        return [a for a in data if isinstance(a, dict)]

    async def create_silence(
        self,
        labels: Mapping[str, str],
        *,
        starts_at: float,
        ends_at: float,
        created_by: str,
        comment: str,
    ) -> str:
        """POST /api/v2/silences with one equality matcher per label; returns the silence id."""
        if not labels:
            raise ClientError("bad_request", "a silence needs at least one label", retryable=False)
        body = {
            "matchers": [
                {"name": k, "value": v, "isRegex": False, "isEqual": True}
                for k, v in sorted(labels.items())
            ],
            "startsAt": _rfc3339(starts_at),
            "endsAt": _rfc3339(ends_at),
            "createdBy": created_by,
            "comment": comment,
        }
        data = await self._request("POST", "/api/v2/silences", json=body)
        silence_id = data.get("silenceID") if isinstance(data, dict) else None
        if not isinstance(silence_id, str):
            raise ClientError("bad_response", "Alertmanager gave no silenceID", retryable=False)
        return silence_id
