"""What the rollback feature keeps in the state store, per service.

* ``rollback_state``: the last rollback's time (cooldown), the revision the service was
  rolled back *to* (frozen until another appears; ``PENDING`` until it is read back), the
  revision last seen and when (a command target's deploy time), and the episode number
  of a command target without a revision source.
* the core ``idempotency`` table, scope ``rollback``: key ``<service>@<from-revision>``,
  claimed once before anything runs, so a restart never rolls back twice from the same
  revision. Dry runs claim in scope ``rollback-dry-run`` (announced once per revision,
  and the real key stays free for when dry_run is switched off); a fail blocked only by
  the global switch claims in ``rollback-switched-off`` (announced once per revision).
* the claim and a *pending* freeze (``last_rollback_at`` = now, ``frozen_revision`` =
  ``PENDING``) are stored before anything runs, so a daemon killed mid-rollback comes
  back frozen and in cooldown, never rolling back again from the revision it rolled to.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace

import sqlalchemy as sa

from sre.checks.rollback import PolicyState, Revision
from sre.runtime.ha import Fenced, Term
from sre.runtime.store import Store
from sre.runtime.store.contract import Tx
from sre.runtime.store.tables import TIME

COMPONENT = "rollback"
SCOPE = "rollback"
DRY_RUN_SCOPE = "rollback-dry-run"
SWITCHED_OFF_SCOPE = "rollback-switched-off"  # the global switch's announcement, once per rev
PENDING = "\x00pending"  # frozen, the revision rolled back to not read yet

tables = sa.MetaData()
rollback_state = sa.Table(
    "rollback_state",
    tables,
    sa.Column("service", sa.Text, primary_key=True),
    sa.Column("last_rollback_at", TIME),
    sa.Column("frozen_revision", sa.Text),
    sa.Column("seen_revision", sa.Text),
    sa.Column("seen_at", TIME),
    sa.Column("episode", sa.Integer, nullable=False, server_default="1"),
    sa.Column("episode_started_at", TIME),
)


def _create(tx: Tx) -> None:
    tx.create(rollback_state)


MIGRATIONS = (_create,)

COLUMNS = "last_rollback_at, frozen_revision, seen_revision, seen_at, episode, episode_started_at"
LOAD = f"SELECT {COLUMNS} FROM rollback_state WHERE service = :service"
SAVE = (
    f"INSERT INTO rollback_state (service, {COLUMNS}) VALUES (:service, :last_rollback_at, "
    ":frozen_revision, :seen_revision, :seen_at, :episode, :episode_started_at) "
    "ON CONFLICT (service) DO UPDATE SET last_rollback_at = excluded.last_rollback_at, "
    "frozen_revision = excluded.frozen_revision, seen_revision = excluded.seen_revision, "
    "seen_at = excluded.seen_at, episode = excluded.episode, "
    "episode_started_at = excluded.episode_started_at"
)
FREEZE = (
    "INSERT INTO rollback_state (service, last_rollback_at, frozen_revision) "
    "VALUES (:service, :now, :frozen) ON CONFLICT (service) DO UPDATE SET "
    "last_rollback_at = excluded.last_rollback_at, frozen_revision = excluded.frozen_revision"
)


@dataclass(frozen=True)
class ServiceState:
    service: str
    last_rollback_at: float | None = None
    frozen_revision: str | None = None
    seen_revision: str | None = None
    seen_at: float | None = None
    episode: int = 1
    episode_started_at: float | None = None


def key(service: str, revision: str) -> str:
    return f"{service}@{revision}"


class RollbackState:
    """Every method is a coroutine: the SQL runs on the store's worker thread."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.migrate(COMPONENT, MIGRATIONS)

    async def load(self, service: str) -> ServiceState:
        return await self.store.run(self._load, service)

    def _load(self, service: str) -> ServiceState:
        with self.store.transaction() as tx:
            row = tx.one(LOAD, {"service": service})
        if row is None:
            return ServiceState(service)
        return ServiceState(service, **row)

    async def save(self, state: ServiceState) -> None:
        await self.store.run(self._save, state)

    def _save(self, state: ServiceState) -> None:
        with self.store.transaction() as tx:
            tx.execute(SAVE, state.__dict__)

    async def episode(self, st: ServiceState, now: float) -> Revision:
        """A target without revisions: the "revision" is an episode that ends when the
        service, frozen after a rollback, is seen passing again."""
        if st.episode_started_at is None:
            st = replace(st, episode_started_at=now)
            await self.save(st)
        started = st.episode_started_at if st.episode_started_at is not None else now
        return Revision(f"episode-{st.episode}", deployed_at=started, previous="previous")

    async def claim(self, service: str, revision: str, *, dry_run: bool = False) -> bool:
        scope = DRY_RUN_SCOPE if dry_run else SCOPE
        return await self.store.run(self.store.claim, scope, key(service, revision))

    async def claim_switched_off(self, service: str, revision: str) -> bool:
        return await self.store.run(self.store.claim, SWITCHED_OFF_SCOPE, key(service, revision))

    async def claim_rollback(
        self, service: str, revision: str, now: float, frozen: str, term: Term | None = None
    ) -> ServiceState | None:
        """Claim ``<service>@<revision>`` and, in the same transaction, start the cooldown
        and freeze the service (``frozen``: ``PENDING`` or the episode) *before* anything
        runs: a daemon killed mid-rollback must come back frozen, not roll back again
        from the revision it rolled back to. The state as it was before (to withdraw the
        claim), None when the key was claimed already. ``term``: the transaction first
        checks it still holds (``Fenced`` if not: a leader paused past its lease does not
        act on what it decided before)."""
        return await self.store.run(self._claim_rollback, service, revision, now, frozen, term)

    def _claim_rollback(
        self, service: str, revision: str, now: float, frozen: str, term: Term | None
    ) -> ServiceState | None:
        with self.store.transaction() as tx:
            if term is not None:
                term.check(tx, "rollback")
            if not self.store.claim(SCOPE, key(service, revision)):
                return None
            before = self._load(service)
            tx.execute(FREEZE, {"service": service, "now": now, "frozen": frozen})
        return before

    async def still_ours(self, term: Term | None, before: ServiceState, revision: str) -> bool:
        """Right before the command runs: False when ``term`` ended since the claim (a
        pause); then the claim is withdrawn (the key free again, the freeze as it was
        ``before``), so that the next leader decides afresh."""
        if term is None or term.alive():
            return True
        with contextlib.suppress(Fenced):
            term.guard("rollback")  # counted and logged
        await self.store.run(self._withdraw, before, revision)
        return False

    def _withdraw(self, before: ServiceState, revision: str) -> None:
        with self.store.transaction() as tx:
            self.store.unclaim(SCOPE, key(before.service, revision))
            tx.execute(SAVE, before.__dict__)

    async def policy(self, state: ServiceState, revision: str | None) -> PolicyState:
        claimed = revision is not None and await self.store.run(
            self.store.claimed, SCOPE, key(state.service, revision)
        )
        return PolicyState(
            last_rollback_at=state.last_rollback_at,
            rolled_back_from=frozenset({revision}) if claimed and revision else frozenset(),
            frozen_until_new_revision=state.frozen_revision,
        )
