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

from dataclasses import dataclass

from sre.checks.rollback import PolicyState
from sre.daemon.store import Store

COMPONENT = "rollback"
SCOPE = "rollback"
DRY_RUN_SCOPE = "rollback-dry-run"
SWITCHED_OFF_SCOPE = "rollback-switched-off"  # the global switch's announcement, once per rev
PENDING = "\x00pending"  # frozen, the revision rolled back to not read yet

MIGRATIONS = (
    """
    CREATE TABLE rollback_state (
        service TEXT PRIMARY KEY,
        last_rollback_at REAL,
        frozen_revision TEXT,
        seen_revision TEXT,
        seen_at REAL,
        episode INTEGER NOT NULL DEFAULT 1,
        episode_started_at REAL
    );
    """,
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
    def __init__(self, store: Store) -> None:
        self.store = store
        store.migrate(COMPONENT, MIGRATIONS)

    def load(self, service: str) -> ServiceState:
        with self.store.transaction() as db:
            row = db.execute(
                "SELECT last_rollback_at, frozen_revision, seen_revision, seen_at, episode, "
                "episode_started_at FROM rollback_state WHERE service = ?",
                (service,),
            ).fetchone()
        if row is None:
            return ServiceState(service)
        return ServiceState(service, *row)

    def save(self, state: ServiceState) -> None:
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO rollback_state (service, last_rollback_at, frozen_revision, "
                "seen_revision, seen_at, episode, episode_started_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(service) DO UPDATE SET "
                "last_rollback_at = excluded.last_rollback_at, "
                "frozen_revision = excluded.frozen_revision, "
                "seen_revision = excluded.seen_revision, seen_at = excluded.seen_at, "
                "episode = excluded.episode, episode_started_at = excluded.episode_started_at",
                (
                    state.service,
                    state.last_rollback_at,
                    state.frozen_revision,
                    state.seen_revision,
                    state.seen_at,
                    state.episode,
                    state.episode_started_at,
                ),
            )

    def claimed(self, service: str, revision: str) -> bool:
        with self.store.transaction() as db:
            row = db.execute(
                "SELECT 1 FROM idempotency WHERE scope = ? AND key = ?",
                (SCOPE, key(service, revision)),
            ).fetchone()
        return row is not None

    def claim(self, service: str, revision: str, *, dry_run: bool = False) -> bool:
        return self.store.claim(DRY_RUN_SCOPE if dry_run else SCOPE, key(service, revision))

    def claim_rollback(self, service: str, revision: str, now: float, frozen: str) -> bool:
        """Claim ``<service>@<revision>`` and, in the same transaction, start the cooldown
        and freeze the service (``frozen``: ``PENDING`` or the episode) *before* anything
        runs: a daemon killed mid-rollback must come back frozen, not roll back again
        from the revision it rolled back to. False when the key was claimed already."""
        with self.store.transaction() as db:
            cur = db.execute(
                "INSERT INTO idempotency (scope, key, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (SCOPE, key(service, revision), now),
            )
            if cur.rowcount != 1:
                return False
            db.execute(
                "INSERT INTO rollback_state (service, last_rollback_at, frozen_revision) "
                "VALUES (?, ?, ?) ON CONFLICT(service) DO UPDATE SET "
                "last_rollback_at = excluded.last_rollback_at, "
                "frozen_revision = excluded.frozen_revision",
                (service, now, frozen),
            )
        return True

    def claim_switched_off(self, service: str, revision: str) -> bool:
        return self.store.claim(SWITCHED_OFF_SCOPE, key(service, revision))

    def policy(self, state: ServiceState, revision: str | None) -> PolicyState:
        claimed = revision is not None and self.claimed(state.service, revision)
        return PolicyState(
            last_rollback_at=state.last_rollback_at,
            rolled_back_from=frozenset({revision}) if claimed and revision else frozenset(),
            frozen_until_new_revision=state.frozen_revision,
        )
