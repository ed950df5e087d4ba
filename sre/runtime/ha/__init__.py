"""High availability: several daemon replicas on one PostgreSQL state store (docs/ha.md).

* ``cluster.py``: each replica's heartbeat, the leader lease (one row, an epoch that grows
  with every new holder), the live replicas; ``solo.py``: a lone SQLite daemon, always
  the leader.
* ``term.py``: :class:`Term` and :class:`Fenced`: work keeps the term it began under, and
  each side effect is claimed in a transaction that checks that term still holds.
* ``guards.py``: clients whose calls check a term first (the Slack poster, silences).

What features see is :class:`Cluster`: who leads, who is live, a way to be told of
changes. Scheduled jobs run only on the leader (``sre.runtime.jobs``); every replica
serves HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from prometheus_client import CollectorRegistry

from sre.config import DaemonConfig
from sre.runtime.ha.cluster import ReplicatedCluster
from sre.runtime.ha.metrics import HaMetrics
from sre.runtime.ha.solo import SOLO, SoloCluster
from sre.runtime.ha.term import LEADER, MEMBER, Fenced, Term
from sre.runtime.store import Store

__all__ = [
    "LEADER",
    "MEMBER",
    "SOLO",
    "Cluster",
    "Fenced",
    "ReplicatedCluster",
    "SoloCluster",
    "Term",
    "open_cluster",
]


class Cluster(Protocol):
    """What features know of the other replicas."""

    @property
    def shared(self) -> bool:
        """True when other replicas may share the store (PostgreSQL)."""
        ...

    @property
    def replica_id(self) -> str: ...

    def leading(self) -> Term | None:
        """The current leader term; None when another replica leads."""
        ...

    def member(self) -> Term:
        """This replica's membership term, for work a request brought to it."""
        ...

    def live(self) -> tuple[str, ...]:
        """The live replicas' ids, sorted (this one included)."""
        ...

    def fresh(self) -> bool:
        """False while this replica cannot tell who is live (its heartbeat is failing)."""
        ...

    def watch(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` on the event loop when leadership or membership changes;
        returns the function that stops it."""
        ...

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


def open_cluster(daemon: DaemonConfig, store: Store, registry: CollectorRegistry) -> Cluster:
    """Replicated on a shared (PostgreSQL) store, solo on SQLite; the metrics either way."""
    metrics = HaMetrics(registry)
    if daemon.shared_state:
        return ReplicatedCluster(store, daemon.ha, metrics)
    metrics.watch(lambda: True, lambda: 1)
    return SoloCluster()
