"""Health probes (``services[].health`` and ``probes``): one engine per interval.

The feature owns the targets (``state.Targets``, the read interface the rollback trigger
gets), the engines that probe them (``engine.py``) and their metrics (``metrics.py``).
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
from sre.features.probes.engine import ProbeEngine, StartHook
from sre.features.probes.metrics import ProbeMetrics
from sre.features.probes.state import Target, Targets
from sre.runtime.feature import Feature
from sre.runtime.jobs import JobRunner

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
    ) -> None:
        self.concurrency = concurrency
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
            )
            for interval, targets in sorted(groups.items())
        ]

    async def start(self) -> None:
        for engine in self.engines:
            log.info(
                "probe engine %s: %d target(s), concurrency %d",
                engine.label,
                len(engine.targets),
                self.concurrency,
            )
            engine.start()

    async def stop(self, timeout: float) -> None:
        await asyncio.gather(*(engine.stop(timeout) for engine in self.engines))
        await self.prober.close()
