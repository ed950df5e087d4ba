"""One HTTP exchange with an outside system, its transport errors classified in one place.

The HTTP clients (Grafana, Prometheus, Alertmanager) each interpret status codes and
bodies their own way, but a system that cannot be reached is the same failure for all of
them: ``unreachable``, retryable. Anything else aiohttp raises is a ``bad_response``.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from sre.clients import ClientError


async def exchange(
    session: aiohttp.ClientSession, method: str, url: str, *, system: str, **kwargs: Any
) -> tuple[int, str]:
    """``(status, body text)``; raise :class:`ClientError` when no answer arrived.

    ``system`` names the other side in messages (``"Grafana at http://grafana:3000"``);
    ``kwargs`` go to ``session.request`` (params, json, headers, timeout).
    """
    try:
        async with session.request(method, url, **kwargs) as resp:
            return resp.status, await resp.text()
    except (TimeoutError, aiohttp.ClientConnectionError) as err:
        raise ClientError(
            "unreachable",
            f"{system} is unreachable: {type(err).__name__}: {err}",
            retryable=True,
        ) from None
    except aiohttp.ClientError as err:
        raise ClientError(
            "bad_response", f"{system}: {method} {url}: {err}", retryable=True
        ) from None
