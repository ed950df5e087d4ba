"""A cluster for in-process tests: the test says which term this replica holds."""

from __future__ import annotations

from collections.abc import Callable

from sre.runtime.ha import SOLO, Term


class StubCluster:
    """``term``: what :meth:`leading` answers while it is alive (None: another replica
    leads). ``shared``: as on PostgreSQL (features fence their side effects)."""

    replica_id = "r1"

    def __init__(self, term: Term | None, *, shared: bool = True) -> None:
        self.term = term
        self.shared = shared

    def leading(self) -> Term | None:
        return self.term if self.term is not None and self.term.alive() else None

    def member(self) -> Term:
        return self.term or SOLO.member()

    def live(self) -> tuple[str, ...]:
        return (self.replica_id,)

    def fresh(self) -> bool:
        return True

    def watch(self, listener: Callable[[], None]) -> Callable[[], None]:
        return lambda: None

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
