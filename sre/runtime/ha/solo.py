"""One daemon on a SQLite file: it always leads, alone, and nothing needs fencing (the file
lock already keeps a second daemon out)."""

from __future__ import annotations

from collections.abc import Callable

from sre.runtime.ha.term import LEADER, Term
from sre.runtime.store.contract import Tx


class SoloCluster:
    shared = False
    replica_id = "solo"

    def __init__(self) -> None:
        self._term = Term(LEADER, 1, self)

    def leading(self) -> Term:
        return self._term

    def member(self) -> Term:
        return self._term

    def live(self) -> tuple[str, ...]:
        return (self.replica_id,)

    def fresh(self) -> bool:
        return True

    def watch(self, listener: Callable[[], None]) -> Callable[[], None]:
        return lambda: None  # nothing ever changes

    async def start(self) -> None: ...
    async def stop(self) -> None: ...

    # TermOwner: the one term never ends.
    def alive(self, term: Term) -> bool:
        return True

    def holds(self, tx: Tx, term: Term) -> bool:
        return True

    def refused(self, term: Term, action: str) -> None: ...


SOLO = SoloCluster()
