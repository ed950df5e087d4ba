"""The runtime's own job: drop expired cache entries from the store, hourly."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from apscheduler.triggers.interval import IntervalTrigger

from sre.runtime.feature import Feature
from sre.runtime.jobs import JobSpec
from sre.runtime.store import Store

log = logging.getLogger(__name__)


class StoreMaintenance(Feature):
    name = "store"

    def __init__(self, store: Store) -> None:
        self.store = store

    def jobs(self) -> Sequence[JobSpec]:
        return [JobSpec("store.maintenance", self.run, IntervalTrigger(hours=1))]

    async def run(self) -> None:
        purged = await self.store.run(self.store.cache_purge)
        log.debug("store maintenance: %d expired cache entries removed", purged)
