"""Health probes (``services[].health`` and ``probes``): one engine per interval.

The feature owns the targets (``state.Targets``), the engines that probe them
(``engine.py``), their metrics (``metrics.py``) and ``status``, what the rollback trigger
reads. On several replicas (a shared store) each probes its rendezvous-hash share of
the targets (``shard.py``) and writes what changed to the store, where ``status`` reads
it whichever replica probed (``results.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from prometheus_client import CollectorRegistry

from sre.checks.probe import ProbeState, start_offset
from sre.clients.probe import Prober, prepare
from sre.config import Probe
from sre.config.durations import Duration
from sre.features.probes import results
from sre.features.probes.engine import ProbeEngine, StartHook
from sre.features.probes.metrics import ProbeMetrics
from sre.features.probes.shard import Sharding
from sre.features.probes.state import Target, Targets
from sre.runtime.feature import Feature
from sre.runtime.ha import SOLO, Cluster
from sre.runtime.jobs import JobRunner
from sre.runtime.store import Store

log = logging.getLogger(__name__)


class ProbesFeature(Feature):
    name = "probes"

    def __init__(
        self,
        probes: Sequence[Probe],
        *,
        concurrency: int,
        runner: JobRunner,
        registry: CollectorRegistry,
        clock: Callable[[], float],
        on_start: StartHook | None = None,
        cluster: Cluster = SOLO,
        store: Store | None = None,
    ) -> None:
        self.concurrency = concurrency
        self.cluster = cluster
        self.prober = Prober()
        self.semaphore = asyncio.Semaphore(concurrency)
        groups: dict[Duration, list[Target]] = {}
        for probe in probes:
            target = Target(
                probe=probe,
                request=prepare(probe),
                offset=start_offset(probe.service, probe.name, probe.interval.seconds),
                state=ProbeState(service=probe.service, target=probe.name),
            )
            groups.setdefault(probe.interval, []).append(target)
        self.targets = Targets([t for group in groups.values() for t in group])
        self.metrics = ProbeMetrics(registry, self.targets.all)
        self.status: results.SharedStatus | results.LocalStatus = results.LocalStatus(self.targets)
        self.writer: results.ResultWriter | None = None
        self.sharding: Sharding | None = None
        self._unwatch: Callable[[], None] = lambda: None
        if cluster.shared and store is not None:
            store.migrate(results.COMPONENT, results.MIGRATIONS)
            self.store = store
            self.writer = results.ResultWriter(store, cluster.replica_id)
            self.status = results.SharedStatus(store, self.targets)
            for target in self.targets.all():
                target.owned = False  # until the first share is computed
            self.sharding = Sharding(cluster, self.targets.all(), self.metrics.owned, self._adopt)
        else:
            self.metrics.owned.set(len(self.targets.all()))
        self.engines = [
            ProbeEngine(
                interval,
                targets,
                self.prober,
                self.semaphore,
                runner=runner,
                heartbeat=self.metrics.heartbeat,
                clock=clock,
                on_start=on_start,
                on_record=self.writer.record if self.writer else None,
                active=cluster.fresh,
            )
            for interval, targets in sorted(groups.items())
        ]

    async def start(self) -> None:
        if self.sharding is not None and self.writer is not None:
            self._unwatch = self.cluster.watch(self.sharding.changed)
            await self.sharding.apply()
            self.writer.start()
        for engine in self.engines:
            log.info(
                "probe engine %s: %d target(s), concurrency %d",
                engine.label,
                len(engine.targets),
                self.concurrency,
            )
            engine.start()

    async def stop(self, timeout: float) -> None:
        self._unwatch()
        await asyncio.gather(*(engine.stop(timeout) for engine in self.engines))
        if self.sharding is not None:
            await self.sharding.stop()
        if self.writer is not None:
            await self.writer.stop()
        await self.prober.close()

    async def _adopt(self, gained: list[Target]) -> None:
        """Targets just taken over continue the streaks their last owner stored."""
        stored = await self.store.run(results.load, self.store)
        adopted = results.adopt(gained, stored)
        if adopted:
            log.info("probes: %d target(s) taken over with their stored state", adopted)
