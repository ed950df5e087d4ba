"""Several replicas on one PostgreSQL store: heartbeat, the leader lease, who is live.

Every ``renew_interval`` each replica runs one transaction (``tables.beat``): it renews its
own row, renews the lease if it holds it or takes it if it expired, and reads the live
replicas. It runs on a thread of its own, so webhooks queued on the store's workers
never delay a renewal.

Deadlines are kept on the local monotonic clock from the moment a beat *began*: the
database sets the lease's expiry from its own clock at or after that moment, so the local
deadline passes first, and a leader that cannot renew (the database is down, the process
was paused) stops acting before anyone else may start. A timer ends the term at that
deadline even if no beat ever returns.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sre.config import HaConfig
from sre.runtime.ha.metrics import HaMetrics
from sre.runtime.ha.tables import (
    COMPONENT,
    MIGRATIONS,
    Beat,
    beat,
    holds_lease,
    holds_membership,
    leave,
)
from sre.runtime.ha.term import LEADER, MEMBER, Term
from sre.runtime.store import Store, StoreError, StoreUnavailable
from sre.runtime.store.contract import Tx

log = logging.getLogger(__name__)

Listener = Callable[[], None]
SAFETY = 0.05  # of the lease: local deadlines end this much before the database's


def new_replica_id() -> str:
    """Unique per process: the pod's name (the host name) and a random suffix, so a
    restarted container never inherits its predecessor's row."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class ReplicatedCluster:
    shared = True

    def __init__(
        self,
        store: Store,
        ha: HaConfig,
        metrics: HaMetrics,
        *,
        replica_id: str | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        store.migrate(COMPONENT, MIGRATIONS)
        self.store = store
        self.metrics = metrics
        self.replica_id = replica_id or new_replica_id()
        self.lease_seconds = ha.lease_duration.seconds
        self.renew_seconds = ha.renew_interval.seconds
        # A dead replica's targets move within one lease: others notice within a renewal.
        self.member_ttl = self.lease_seconds - self.renew_seconds
        self.monotonic = monotonic
        self._epoch: int | None = None
        self._leader_term: Term | None = None
        self._deadline = 0.0
        self._generation = 0
        self._member_term: Term | None = None
        self._member_deadline = 0.0
        self._live: tuple[str, ...] = (self.replica_id,)
        self._holder = ""
        self._listeners: list[Listener] = []
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sre-ha")
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._failing = False
        self._stopped = False
        metrics.watch(lambda: self.leading() is not None, lambda: len(self.live()))

    # ------------------------------------------------------------------ what features ask

    def leading(self) -> Term | None:
        """The current leader term, or None when this replica is not the leader."""
        term = self._leader_term
        return term if term is not None and self.alive(term) else None

    def member(self) -> Term:
        """This replica's membership term (for work a request brought here)."""
        if self._member_term is None:
            self._member_term = Term(MEMBER, self._generation, self)
        return self._member_term

    def live(self) -> tuple[str, ...]:
        """Live replicas, sorted, as the last beat saw them."""
        return self._live

    def fresh(self) -> bool:
        """True while this replica's own view of the membership is current."""
        return self.monotonic() < self._member_deadline

    def watch(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` (on the event loop) when leadership or membership changes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # ------------------------------------------------------------------ TermOwner

    def alive(self, term: Term) -> bool:
        now = self.monotonic()
        if term.kind == LEADER:
            return term.number == self._epoch and now < self._deadline
        return term.number == self._generation and now < self._member_deadline

    def holds(self, tx: Tx, term: Term) -> bool:
        if term.kind == LEADER:
            return holds_lease(tx, self.replica_id, term.number)
        return holds_membership(tx, self.replica_id, term.number)

    def refused(self, term: Term, action: str) -> None:
        self.metrics.fenced.labels(action=action).inc()
        log.warning(
            "%s refused: this replica's %s term %d is over (replica %s)",
            action,
            term.kind,
            term.number,
            self.replica_id,
        )

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """The first beat (so a replica knows where it stands before it serves), then the
        loop."""
        await self.beat_once()
        self._task = asyncio.create_task(self._run(), name="ha-heartbeat")
        log.info(
            "replica %s: %d live replica(s), %s (lease %gs, renewed every %gs)",
            self.replica_id,
            len(self._live),
            "leader" if self.leading() else f"following {self._holder or 'nobody yet'}",
            self.lease_seconds,
            self.renew_seconds,
        )

    async def stop(self) -> None:
        """Leave: drop out of the membership and hand the lease back, so that another
        replica takes over at its next beat instead of a lease later."""
        if self._stopped:
            return
        self._stopped = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._timer is not None:
            self._timer.cancel()
        was_leader = self._epoch is not None
        self._end_leadership("stopping")
        try:
            work = asyncio.get_running_loop().run_in_executor(self._thread, self._leave)
            await asyncio.wait_for(work, timeout=self.renew_seconds)
        except (StoreUnavailable, StoreError, TimeoutError) as err:
            log.warning("replica %s left without saying so: %s", self.replica_id, err)
        else:
            if was_leader:
                log.info("replica %s handed the lease back", self.replica_id)
        self._thread.shutdown(wait=False)

    def _leave(self) -> None:
        with self.store.transaction() as tx:
            leave(tx, self.replica_id)

    # ------------------------------------------------------------------ beats

    async def _run(self) -> None:
        next_at = self.monotonic()
        while True:
            next_at += self.renew_seconds
            await asyncio.sleep(max(0.0, next_at - self.monotonic()))
            next_at = max(next_at, self.monotonic() - self.renew_seconds)  # after a pause
            await self.beat_once()

    async def beat_once(self) -> None:
        began = self.monotonic()
        work = asyncio.get_running_loop().run_in_executor(self._thread, self._beat)
        try:
            found = await asyncio.wait_for(work, timeout=self.member_ttl)
        except (StoreUnavailable, StoreError, TimeoutError) as err:
            if not self._failing:
                log.error("replica %s: heartbeat failed: %s", self.replica_id, err or "timeout")
            self._failing = True
            return  # the deadlines (and their timer) end what can no longer be renewed
        if self._failing:
            log.info("replica %s: heartbeat works again", self.replica_id)
        self._failing = False
        self._apply(found, began)

    def _beat(self) -> Beat:
        with self.store.transaction() as tx:
            return beat(tx, self.replica_id, member_ttl=self.member_ttl, lease=self.lease_seconds)

    def _apply(self, found: Beat, began: float) -> None:
        changed = False
        if found.generation != self._generation:
            self._generation = found.generation
            self._member_term = None
        self._member_deadline = began + self.member_ttl - SAFETY * self.lease_seconds
        if found.epoch is not None:
            if found.epoch != self._epoch:
                self._end_leadership("a new term")
                self._epoch = found.epoch
                self._leader_term = Term(LEADER, found.epoch, self)
                self.metrics.transitions.labels(transition="acquired").inc()
                log.info("replica %s leads (lease epoch %d)", self.replica_id, found.epoch)
                changed = True
            self._deadline = began + self.lease_seconds * (1 - SAFETY)
        elif self._epoch is not None:
            changed = self._end_leadership(f"{found.holder} holds the lease")
        self._holder = found.holder
        self.metrics.epoch.set(found.lease_epoch)
        if found.live != self._live:
            self._live = found.live
            changed = True
        self._arm_timer()
        if changed:
            self._notify()

    def _end_leadership(self, why: str) -> bool:
        if self._epoch is None:
            return False
        log.warning("replica %s no longer leads (epoch %d): %s", self.replica_id, self._epoch, why)
        self.metrics.transitions.labels(transition="lost").inc()
        self._epoch, self._leader_term = None, None
        return True

    def _arm_timer(self) -> None:
        """Act on the deadlines even when no beat comes back (the database hangs)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        now = self.monotonic()
        ends = [self._member_deadline] + ([self._deadline] if self._epoch is not None else [])
        ahead = [end for end in ends if end > now]
        if ahead:
            delay = min(ahead) - now + 0.001
            self._timer = asyncio.get_running_loop().call_later(delay, self._expired)

    def _expired(self) -> None:
        """A deadline passed without a renewal: leadership ends; ``fresh()`` turns False
        (probes pause) until the next beat."""
        self._timer = None
        if self._epoch is not None and self.monotonic() >= self._deadline:
            self._end_leadership("the lease expired without a renewal")
        self._notify()
        self._arm_timer()

    def _notify(self) -> None:
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:  # one broken listener must not stop the heartbeat
                log.exception("HA listener failed")
