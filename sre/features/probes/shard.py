"""Which replica probes which target: rendezvous (highest-random-weight) hashing over the
live replicas.

Every replica knows every target and the same sorted list of live replicas (from the HA
heartbeat), so each computes the same owner for each target with no coordination: the
replica whose hash of ``(replica, target)`` is highest. When a replica leaves, only its
targets move (each to its own next-highest replica, spread evenly); when one joins, it
takes about ``1/n`` of everyone's. A replica that cannot tell who is live (its heartbeat
fails) probes nothing until it can: two replicas probing one target is the lesser harm
only for a moment, never as a steady state.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from prometheus_client import Gauge

from sre.features.probes.state import Target
from sre.runtime.ha import Cluster

log = logging.getLogger(__name__)


def weight(replica: bytes, target: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(replica + b"\x00" + target, digest_size=8).digest())


def owner(target: bytes, replicas: Sequence[str]) -> str:
    """The replica that owns ``target`` (``replicas`` non-empty)."""
    return max(replicas, key=lambda r: weight(r.encode(), target))


def target_key(t: Target) -> bytes:
    return f"{t.state.service}\x00{t.state.target}".encode()


def owned_flags(keys: Sequence[bytes], replicas: Sequence[str], me: str) -> list[bool]:
    """For each target key: is ``me`` its owner among ``replicas``?"""
    if list(replicas) == [me]:
        return [True] * len(keys)
    encoded = [(r, r.encode()) for r in replicas]
    out = []
    for key in keys:
        best = max(encoded, key=lambda pair: weight(pair[1], key))
        out.append(best[0] == me)
    return out


class Sharding:
    """Keeps each target's ``owned`` flag in line with the cluster's live replicas."""

    def __init__(
        self,
        cluster: Cluster,
        targets: Sequence[Target],
        owned_gauge: Gauge,
        on_gain: Callable[[list[Target]], Awaitable[None]],
    ) -> None:
        self.cluster = cluster
        self.targets = list(targets)
        self.keys = [target_key(t) for t in self.targets]
        self.gauge = owned_gauge
        self.on_gain = on_gain
        self._view: tuple[tuple[str, ...], bool] | None = None
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    def changed(self) -> None:
        """The cluster's listener: recompute (off the loop's critical path)."""
        task = asyncio.get_running_loop().create_task(self.apply())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def apply(self) -> None:
        async with self._lock:
            live, fresh = self.cluster.live(), self.cluster.fresh()
            me = self.cluster.replica_id
            view = (live, fresh and me in live)
            if view == self._view:
                return
            self._view = view
            if not view[1]:
                flags = [False] * len(self.targets)  # cannot tell who is live: probe nothing
            else:
                flags = await asyncio.to_thread(owned_flags, self.keys, live, me)
            gained = [t for t, own in zip(self.targets, flags, strict=True) if own and not t.owned]
            for target, own in zip(self.targets, flags, strict=True):
                target.owned = own
            count = sum(flags)
            self.gauge.set(count)
            log.info(
                "probes: %d of %d target(s) owned by this replica (%d live replica(s))",
                count,
                len(self.targets),
                len(live) if view[1] else 0,
            )
            if gained:
                await self.on_gain(gained)

    async def stop(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
