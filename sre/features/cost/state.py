"""What the cost feature keeps: Cost Explorer's answers, cached in the store.

Cost Explorer bills every request and refreshes its data only ~3 times a day, so answers
are cached for ``cost.refresh_every`` (a restart re-uses them), in the store's core cache
(keys ``cost.usage:<start>:<end>``, ``cost.forecast:<day>:<end>``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sre.checks.cost import DailyCost
from sre.runtime.store import Store


class CostCache:
    def __init__(self, store: Store, ttl: float) -> None:
        self.store = store
        self.ttl = ttl

    async def usage(self, start: date, end: date) -> list[DailyCost] | None:
        cached = await self.store.run(self.store.cache_get, f"cost.usage:{start}:{end}")
        if cached is None:
            return None
        return [DailyCost(date.fromisoformat(d), s, float(u), bool(e)) for d, s, u, e in cached]

    async def put_usage(self, start: date, end: date, costs: list[DailyCost]) -> None:
        rows = [[c.day.isoformat(), c.service, c.usd, c.estimated] for c in costs]
        await self.store.run(self.store.cache_put, f"cost.usage:{start}:{end}", rows, self.ttl)

    async def forecast(self, today: date, end: date) -> dict[str, Any] | None:
        found = await self.store.run(self.store.cache_get, f"cost.forecast:{today}:{end}")
        return found if isinstance(found, dict) else None

    async def put_forecast(self, today: date, end: date, value: dict[str, Any]) -> None:
        await self.store.run(self.store.cache_put, f"cost.forecast:{today}:{end}", value, self.ttl)
