"""Prometheus HTTP API. I/O only; errors become ``ClientError``.

Organised as one ``PrometheusClient`` over a shared ``aiohttp.ClientSession``: ``_get_api``
unwraps the ``{"status": "success", "data": ...}`` envelope for every ``/api/v1`` read, so
queries (instant and range) slot in next to ``rule_groups``. Lifecycle calls (``/-/reload``)
sit apart, since they answer plain text.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp

from sre.clients import ClientError
from sre.clients.http import exchange

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedGroup:
    name: str
    file: str
    rules: int


class PrometheusClient:
    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self._base = base_url.rstrip("/")
        self._session = session

    @property
    def base_url(self) -> str:
        return self._base

    async def _request(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> tuple[int, str]:
        extra: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
        # A POST carries its parameters as a form: a query over hundreds of services is
        # longer than a proxy in front of Prometheus may accept in a URL.
        extra["data" if method == "POST" else "params"] = params
        return await exchange(
            self._session,
            method,
            f"{self._base}{path}",
            system=f"Prometheus at {self._base}",
            **extra,
        )

    async def _get_api(
        self,
        path: str,
        params: dict[str, str] | None = None,
        *,
        failed: str = "bad_response",
        timeout: aiohttp.ClientTimeout | None = None,
        method: str = "GET",
        whole: bool = False,
    ) -> Any:
        """The ``data`` of a JSON API answer. An answer that is not ``success`` raises with
        reason ``failed`` (queries pass ``query_error``); one that is not JSON at all is a
        ``bad_response`` (a proxy's error page, say). With ``whole``, an answer carrying
        ``warnings`` raises ``partial_answer``."""
        status, text = await self._request(method, path, params, timeout)
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ClientError(
                "bad_response", f"Prometheus {path} answered {status}: not JSON", retryable=False
            )
        if status != 200 or body.get("status") != "success":
            error = str(body.get("error") or f"HTTP {status}")[:300]
            kind = body.get("errorType")
            detail = f"{kind}: {error}" if kind else error
            raise ClientError(failed, f"Prometheus {path}: {detail}", retryable=status >= 500)
        warnings = body.get("warnings")
        if whole and warnings:
            # A partial answer (a store of a Thanos or Mimir query layer missing, say):
            # the series it lacks would read as "no data", or skew a ratio.
            detail = "; ".join(str(w) for w in warnings)[:300]
            raise ClientError(
                "partial_answer",
                f"Prometheus {path} answered with warnings: {detail}",
                retryable=True,
            )
        return body.get("data")

    # ------------------------------------------------------------------ lifecycle

    async def reload(self) -> None:
        """POST /-/reload: re-read the config and every rule file; fail if it was rejected."""
        status, text = await self._request("POST", "/-/reload")
        if status == 200:
            return
        detail = " ".join(text.split())[:300] or f"HTTP {status}"
        if status == 403:
            raise ClientError(
                "lifecycle_disabled",
                "Prometheus refused /-/reload: start it with --web.enable-lifecycle",
                retryable=False,
            )
        raise ClientError(
            "reload_failed", f"Prometheus rejected the reload: {detail}", retryable=False
        )

    # ------------------------------------------------------------------ status

    async def runtime_info(self, timeout: float = 10.0) -> dict[str, Any]:
        """``/api/v1/status/runtimeinfo``: ``storageRetention`` (``"15d"``, ``"10d or
        10GiB"``), ``startTime``, ``reloadConfigSuccess`` and the rest, as Prometheus says."""
        path = "/api/v1/status/runtimeinfo"
        data = await self._get_api(path, timeout=aiohttp.ClientTimeout(total=timeout))
        if not isinstance(data, dict):
            raise ClientError("bad_response", f"{path}: data is not an object", retryable=False)
        return data

    # ------------------------------------------------------------------ rules

    async def rule_groups(self) -> list[LoadedGroup]:
        data = await self._get_api("/api/v1/rules")
        groups = data.get("groups") if isinstance(data, dict) else None
        if not isinstance(groups, list):
            raise ClientError("bad_response", "/api/v1/rules: no groups list", retryable=False)
        return [
            LoadedGroup(str(g.get("name")), str(g.get("file")), len(g.get("rules") or []))
            for g in groups
            if isinstance(g, dict)
        ]

    async def wait_for_groups(
        self, names: Iterable[str], *, timeout: float = 10.0, interval: float = 0.2
    ) -> set[str]:
        """Poll /api/v1/rules until every group name is loaded; return those still missing."""
        wanted = set(names)
        deadline = time.monotonic() + timeout
        while True:
            loaded = {g.name for g in await self.rule_groups()}
            missing = wanted - loaded
            if not missing or time.monotonic() >= deadline:
                return missing
            await asyncio.sleep(interval)

    # ------------------------------------------------------------------ queries

    async def query(self, expr: str, at: float | None = None) -> list[Sample]:
        """Instant query: one value per series (``/api/v1/query``, POSTed). An answer with
        ``warnings`` (partial) raises ``partial_answer``, as in :meth:`query_range`."""
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = await self._get_api(
            "/api/v1/query", params, failed="query_error", method="POST", whole=True
        )
        return [
            Sample(labels, points[0][1] if points else math.nan)
            for labels, points in _series(data, "vector", "value")
        ]

    async def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        """Range query: every series' (timestamp, value) points (``/api/v1/query_range``,
        POSTed). An answer with ``warnings`` raises ``partial_answer``: a partial answer
        must never be judged as if it were whole."""
        params = {
            "query": expr,
            "start": f"{start:.3f}",
            "end": f"{end:.3f}",
            "step": f"{step:g}",
        }
        data = await self._get_api(
            "/api/v1/query_range", params, failed="query_error", method="POST", whole=True
        )
        return [
            Series(labels, tuple(points)) for labels, points in _series(data, "matrix", "values")
        ]


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    points: tuple[tuple[float, float], ...]  # (epoch seconds, value); value may be NaN


def _series(
    data: Any, result_type: str, key: str
) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
    """Unpack a vector or matrix result; anything else is ``bad_response``."""
    if not isinstance(data, dict) or data.get("resultType") != result_type:
        got = data.get("resultType") if isinstance(data, dict) else type(data).__name__
        raise ClientError(
            "bad_response", f"expected a {result_type} result, got {got}", retryable=False
        )
    out = []
    try:
        for item in data.get("result") or []:
            raw = [item[key]] if key == "value" else item[key]
            # Prometheus sends values as strings: "0.05", "NaN", "+Inf".
            points = [(float(t), float(v)) for t, v in raw]
            out.append(({str(k): str(v) for k, v in item["metric"].items()}, points))
    except (KeyError, TypeError, ValueError) as err:
        raise ClientError(
            "bad_response", f"malformed {result_type} result: {err!r}", retryable=False
        ) from None
    return out


@asynccontextmanager
async def prometheus_client(
    base_url: str, timeout: float = 10.0
) -> AsyncIterator[PrometheusClient]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        yield PrometheusClient(base_url, session)
