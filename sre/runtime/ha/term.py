"""Terms and fencing: the right to act, and the check that refuses a replica that lost it.

A :class:`Term` is a leader's lease epoch (leader work: scheduled jobs, the outbox
delivery) or a replica's membership generation (work a request brought to whichever
replica got it: a silence, a manual rollback). Work keeps the term it began under, and
every side effect is claimed in a transaction that calls :meth:`Term.check` first: the
database says whether that term still holds (the lease row still has this epoch, held by
this replica, unexpired). A leader paused past its lease (GC, SIGSTOP, a partition)
comes back to find a newer epoch there: its claim is refused, counted, and nothing is
done. :meth:`Term.alive` is the same question asked of the local monotonic clock only,
for the last moment before a call to the outside world that no database can fence
(Slack takes no fencing token): the lease expires in the database no earlier than the
local deadline, so a replica past it has, or may have, a successor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sre.runtime.store.contract import Tx

LEADER, MEMBER = "leader", "member"


class Fenced(Exception):
    """This replica no longer holds the term its work began under; nothing was done."""


class TermOwner(Protocol):
    """Who hands out terms and can tell whether one still holds (``cluster.py``)."""

    def alive(self, term: Term) -> bool: ...
    def holds(self, tx: Tx, term: Term) -> bool: ...
    def refused(self, term: Term, action: str) -> None: ...


@dataclass(frozen=True, eq=False)
class Term:
    kind: str  # leader | member
    number: int  # the lease epoch, or the membership generation
    owner: TermOwner

    def __repr__(self) -> str:
        return f"Term({self.kind} {self.number})"

    def alive(self) -> bool:
        """Still ours by the local clock (no I/O)."""
        return self.owner.alive(self)

    def guard(self, action: str) -> None:
        """Right before a call no database can fence: Fenced when the term is over."""
        if not self.owner.alive(self):
            self.owner.refused(self, action)
            raise Fenced(f"{action} refused: the {self.kind} term {self.number} is over")

    def check(self, tx: Tx, action: str) -> None:
        """Inside the transaction that claims a side effect: Fenced (and counted) unless
        the term still holds, by the local clock and in the database."""
        if not (self.owner.alive(self) and self.owner.holds(tx, self)):
            self.owner.refused(self, action)
            raise Fenced(f"{action} refused: the {self.kind} term {self.number} is over")
