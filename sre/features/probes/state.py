"""What the probe feature keeps per target: in memory, rebuilt at start.

One :class:`Target` per (service, target name): the prepared request, its slot in the
interval, the three-state record the rollback trigger reads (``ProbeState``), the last
observation (for the metrics), failure counts by reason, and whether this replica probes
it (several replicas share the targets: ``shard.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sre.checks.probe import Observation, ProbeState
from sre.clients.probe import Request
from sre.config import Probe


@dataclass(slots=True, eq=False)
class Target:
    probe: Probe
    request: Request
    offset: float
    state: ProbeState
    last: Observation | None = None
    failures: dict[str, int] = field(default_factory=dict)
    owned: bool = True  # several replicas: this one's share (``shard.py``)

    @property
    def is_http(self) -> bool:
        return self.request.kind == "http"


class Targets:
    """Every target, by (service, name); the read interface other features get."""

    def __init__(self, targets: list[Target]) -> None:
        self._by_key = {(t.state.service, t.state.target): t for t in targets}

    def all(self) -> list[Target]:
        return list(self._by_key.values())

    def status(self, service: str, target: str) -> ProbeState | None:
        found = self._by_key.get((service, target))
        return found.state if found is not None else None

    def for_service(self, service: str) -> list[ProbeState]:
        return [t.state for (s, _), t in self._by_key.items() if s == service]
