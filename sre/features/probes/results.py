"""Probe results in the shared store (component ``probes``), for several replicas.

Whichever replica probed a target, the rollback trigger's health check (on the leader)
reads its streak from ``probe_results``, and a replica that takes a target over continues
its streak from there. A row is written when what the trigger reads changes (up or down,
the failure streak, the reason): a healthy target costs nothing after its first probe.
Writes are batched: one transaction a second per replica, many rows per statement.

On SQLite (one daemon) nothing is written: :class:`LocalStatus` answers from memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from sre.checks.probe import ProbeState
from sre.features.probes.state import Target, Targets
from sre.runtime.store import Store, StoreError, StoreUnavailable
from sre.runtime.store.contract import Row, Tx
from sre.runtime.store.tables import TIME

log = logging.getLogger(__name__)

COMPONENT = "probes"
FLUSH_EVERY = 1.0
ROWS_PER_STATEMENT = 200

tables = sa.MetaData()
probe_results = sa.Table(
    "probe_results",
    tables,
    sa.Column("service", sa.Text, primary_key=True),
    sa.Column("target", sa.Text, primary_key=True),
    sa.Column("up", sa.Integer),  # 1 | 0 | NULL (never probed)
    sa.Column("consecutive_failures", sa.Integer, nullable=False),
    sa.Column("consecutive_successes", sa.Integer, nullable=False),
    sa.Column("since", TIME),
    sa.Column("last_probe", TIME),
    sa.Column("last_reason", sa.Text),
    sa.Column("probes", sa.BigInteger, nullable=False),
    sa.Column("replica", sa.Text, nullable=False),
)


def _create(tx: Tx) -> None:
    tx.create(probe_results)


MIGRATIONS = (_create,)
COLUMNS = (
    "service",
    "target",
    "up",
    "consecutive_failures",
    "consecutive_successes",
    "since",
    "last_probe",
    "last_reason",
    "probes",
)
STATE_COLUMNS = ", ".join(COLUMNS)


def upsert(count: int) -> str:
    names = (*COLUMNS, "replica")
    values = ", ".join("(" + ", ".join(f":{n}_{i}" for n in names) + ")" for i in range(count))
    updates = ", ".join(f"{n} = excluded.{n}" for n in names[2:])
    return (
        f"INSERT INTO probe_results ({', '.join(names)}) VALUES {values} "
        f"ON CONFLICT (service, target) DO UPDATE SET {updates}"
    )


def state_of(row: Row) -> ProbeState:
    values = {c: row[c] for c in COLUMNS}
    up = values.pop("up")
    return ProbeState(**values, up=None if up is None else bool(up))


def material(before: ProbeState, after: ProbeState) -> bool:
    """Changed in what the rollback trigger reads (and a new owner continues from)."""
    return (
        before.up is not after.up
        or before.consecutive_failures != after.consecutive_failures
        or before.last_reason != after.last_reason
    )


class ResultWriter:
    """Collects material changes from the engines and writes them once a second."""

    def __init__(self, store: Store, replica: str) -> None:
        self.store = store
        self.replica = replica
        self.pending: dict[tuple[str, str], ProbeState] = {}
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def record(self, target: Target, before: ProbeState) -> None:
        if material(before, target.state):
            self.pending[(target.state.service, target.state.target)] = target.state

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="probe-results")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        with contextlib.suppress(StoreUnavailable, StoreError):
            await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY)
            try:
                await self.flush()
            except (StoreUnavailable, StoreError) as err:
                if not self._failing:
                    log.error("probe results not stored, will retry: %s", err)
                self._failing = True
            else:
                self._failing = False

    async def flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, {}
        try:
            await self.store.run(self._write, list(batch.values()))
        except BaseException:
            for key, state in batch.items():  # newer results win over the ones kept back
                self.pending.setdefault(key, state)
            raise

    def _write(self, states: list[ProbeState]) -> None:
        with self.store.transaction() as tx:
            for start in range(0, len(states), ROWS_PER_STATEMENT):
                chunk = states[start : start + ROWS_PER_STATEMENT]
                params: dict[str, Any] = {}
                for i, st in enumerate(chunk):
                    params.update({f"{c}_{i}": getattr(st, c) for c in COLUMNS})
                    params[f"up_{i}"] = None if st.up is None else int(st.up)
                    params[f"replica_{i}"] = self.replica
                tx.execute(upsert(len(chunk)), params)


def load(store: Store) -> dict[tuple[str, str], ProbeState]:
    """Every stored result (a replica taking targets over reads them once)."""
    with store.transaction() as tx:
        rows = tx.all(f"SELECT {STATE_COLUMNS} FROM probe_results")
    return {(r["service"], r["target"]): state_of(r) for r in rows}


class SharedStatus:
    """The rollback trigger's view of a service's targets, from the shared store."""

    def __init__(self, store: Store, targets: Targets) -> None:
        self.store = store
        self.targets = targets

    async def for_service(self, service: str) -> list[ProbeState]:
        names = [t.state.target for t in self.targets.all() if t.state.service == service]
        if not names:
            return []
        found = await self.store.run(self._read, service)
        return [found.get(name) or ProbeState(service=service, target=name) for name in names]

    def _read(self, service: str) -> dict[str, ProbeState]:
        with self.store.transaction() as tx:
            rows = tx.all(
                f"SELECT {STATE_COLUMNS} FROM probe_results WHERE service = :service",
                {"service": service},
            )
        return {r["target"]: state_of(r) for r in rows}


class LocalStatus:
    """One daemon: the engine's own records, in memory."""

    def __init__(self, targets: Targets) -> None:
        self.targets = targets

    async def for_service(self, service: str) -> list[ProbeState]:
        return self.targets.for_service(service)


def adopt(targets: Iterable[Target], stored: dict[tuple[str, str], ProbeState]) -> int:
    """Targets this replica just took over continue the streak their last owner stored
    (when it is newer than what this replica saw itself, if it ever probed them)."""
    adopted = 0
    for target in targets:
        found = stored.get((target.state.service, target.state.target))
        if found is not None and (found.last_probe or 0.0) > (target.state.last_probe or 0.0):
            target.state = found
            adopted += 1
    return adopted
