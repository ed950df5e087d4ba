"""Grafana HTTP API (the subset publishing and the annotations need). I/O only; errors
become ``ClientError``.

Reasons: ``auth`` (401/403), ``unreachable`` (connection refused, DNS, timeout),
``version_mismatch`` (412: changed since we read it, or a same-named dashboard exists),
``not_found`` (404), ``bad_response`` (anything else unexpected). Messages never contain
the token.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import aiohttp

from sre.clients import ClientError
from sre.clients.http import exchange

log = logging.getLogger(__name__)


class GrafanaClient:
    def __init__(self, base_url: str, token: str, session: aiohttp.ClientSession) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self._session = session

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: list[tuple[str, str]] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        status, text = await exchange(
            self._session,
            method,
            f"{self._base}{path}",
            system=f"Grafana at {self._base}",
            params=params,
            json=body,
            headers=self._headers,
        )
        log.debug("grafana %s %s -> %s", method, path, status)
        data = _json(text)
        if 200 <= status < 300:
            if data is None and text.strip():
                raise ClientError(
                    "bad_response", f"Grafana {method} {path}: not JSON", retryable=False
                )
            return data
        message = data.get("message", "") if isinstance(data, dict) else text.strip()[:200]
        if status in (401, 403):
            raise ClientError(
                "auth",
                f"Grafana refused the token ({status} {message or 'unauthorized'}): check that "
                "it is a valid service-account token with Editor rights on the folder",
                retryable=False,
            )
        if status == 404:
            raise ClientError("not_found", f"Grafana {method} {path}: not found", retryable=False)
        if status == 412:
            kind = data.get("status", "") if isinstance(data, dict) else ""
            raise ClientError(
                "version_mismatch",
                f"Grafana answered 412 {kind or 'precondition failed'}: {message}",
                retryable=False,
            )
        raise ClientError(
            "bad_response",
            f"Grafana {method} {path} answered {status}: {message or '(no message)'}",
            retryable=status >= 500,
        )

    # ------------------------------------------------------------------ folders

    async def get_folder(self, uid: str) -> dict[str, Any] | None:
        try:
            found = await self._call("GET", f"/api/folders/{quote(uid, safe='')}")
        except ClientError as err:
            if err.reason == "not_found":
                return None
            raise
        return _mapping(found, "GET /api/folders/:uid")

    async def create_folder(self, uid: str, title: str) -> dict[str, Any]:
        made = await self._call("POST", "/api/folders", body={"uid": uid, "title": title})
        return _mapping(made, "POST /api/folders")

    # ------------------------------------------------------------------ dashboards

    async def get_dashboard(self, uid: str) -> dict[str, Any] | None:
        """``{"dashboard": {...}, "meta": {...}}``, or None when no dashboard has this uid."""
        try:
            found = await self._call("GET", f"/api/dashboards/uid/{quote(uid, safe='')}")
        except ClientError as err:
            if err.reason == "not_found":
                return None
            raise
        return _mapping(found, "GET /api/dashboards/uid/:uid")

    async def search_dashboards(self, folder_uid: str, tag: str) -> list[dict[str, Any]]:
        params = [("type", "dash-db"), ("folderUIDs", folder_uid), ("tag", tag), ("limit", "5000")]
        found = await self._call("GET", "/api/search", params=params)
        if not isinstance(found, list):
            raise ClientError("bad_response", "GET /api/search: not a list", retryable=False)
        return [hit for hit in found if isinstance(hit, dict)]

    async def save_dashboard(
        self, dashboard: dict[str, Any], *, folder_uid: str, overwrite: bool, message: str
    ) -> dict[str, Any]:
        body = {
            "dashboard": dashboard,
            "folderUid": folder_uid,
            "overwrite": overwrite,
            "message": message,
        }
        saved = await self._call("POST", "/api/dashboards/db", body=body)
        return _mapping(saved, "POST /api/dashboards/db")

    async def delete_dashboard(self, uid: str) -> None:
        await self._call("DELETE", f"/api/dashboards/uid/{quote(uid, safe='')}")

    # ------------------------------------------------------------------ annotations

    async def create_annotation(self, body: dict[str, Any]) -> int:
        """``POST /api/annotations`` (``time``, ``timeEnd`` in ms, ``tags``, ``text``); the
        new annotation's id."""
        made = _mapping(
            await self._call("POST", "/api/annotations", body=body), "POST /api/annotations"
        )
        found = made.get("id")
        if not isinstance(found, int) or isinstance(found, bool):
            raise ClientError("bad_response", "POST /api/annotations: no id", retryable=False)
        return found

    async def find_annotations(
        self, tags: list[str], start_ms: int, end_ms: int, limit: int = 100
    ) -> list[dict[str, Any]]:
        """``GET /api/annotations``: those carrying every one of ``tags`` in the range."""
        params = [("from", str(start_ms)), ("to", str(end_ms)), ("type", "annotation")]
        params += [("limit", str(limit))] + [("tags", tag) for tag in tags]
        found = await self._call("GET", "/api/annotations", params=params)
        if not isinstance(found, list):
            raise ClientError("bad_response", "GET /api/annotations: not a list", retryable=False)
        return [a for a in found if isinstance(a, dict)]


@asynccontextmanager
async def grafana_client(
    base_url: str, token: str, timeout: float = 10.0
) -> AsyncIterator[GrafanaClient]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        yield GrafanaClient(base_url, token, session)


def _json(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return None


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ClientError("bad_response", f"{what}: expected a JSON object", retryable=False)
    return value
