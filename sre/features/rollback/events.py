"""The events the rollback feature publishes (``sre.runtime.events``), and when.

* ``deploy``   a new revision of a service was seen (not the one a rollback returned to);
* ``verdict``  the triggers' overall verdict on a revision: its first evaluation, then
  each change (the consumer knows the latest at any time, without one event per run);
* ``rollback`` every audit record (a decision that matters, a rollback's result).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sre.checks import gate
from sre.checks.rollback import Revision, TriggerVerdict
from sre.features.rollback.audit import KIND
from sre.runtime.events import Event, Events
from sre.runtime.store import Store


def deploy(service: str, revision: Revision, now: float, target: Mapping[str, Any]) -> Event:
    return Event(
        kind="deploy",
        key=f"deploy:{service}:{revision.revision}",
        service=service,
        at=now,
        data={
            "revision": revision.revision,
            "previous": revision.previous,
            "deployed_at": revision.deployed_at,
            "target": dict(target),
        },
    )


def verdict(service: str, revision: str, verdicts: Sequence[TriggerVerdict], now: float) -> Event:
    outcome, reason = gate.overall(verdicts)
    return Event(
        kind="verdict",
        key=f"verdict:{service}:{revision}:{now:.3f}",
        service=service,
        at=now,
        data={
            "revision": revision,
            "outcome": outcome,
            "reason": reason,
            "line": gate.summary(verdicts),
        },
    )


def rollback(audit_id: int, record: Mapping[str, Any], now: float) -> Event:
    """An audit record as an event (the record minus the raw samples)."""
    data = {k: v for k, v in record.items() if k not in ("verdicts", "commands")}
    data["summary"] = "; ".join(
        f"{v['trigger']} {v['outcome']}: {v['reason']}"
        + (
            f" (max {v['max']:.4g}, threshold {v['threshold']:g})"
            if v.get("max") is not None
            else ""
        )
        for v in record.get("verdicts", [])
    )
    data["audit_id"] = audit_id
    return Event(
        kind="rollback",
        key=f"rollback:{audit_id}",
        service=str(record.get("service", "")),
        at=now,
        data=data,
    )


class Publisher:
    """What the feature calls: a deploy event per new revision, a verdict event per change,
    an event with every audit record (in the record's own transaction)."""

    def __init__(self, events: Events, store: Store, clock: Callable[[], float]) -> None:
        self.events = events
        self.store = store
        self.clock = clock
        self.last: dict[str, tuple[str, str, str]] = {}  # service -> revision, outcome, reason

    async def deploy(self, service: str, revision: Revision, target: Mapping[str, Any]) -> None:
        await self.events.publish(deploy(service, revision, self.clock(), target))

    async def verdict(
        self, service: str, revision: Revision | None, verdicts: Sequence[TriggerVerdict]
    ) -> None:
        if revision is None:  # unknown: nothing to say about it
            return
        mark = (revision.revision, *gate.overall(verdicts))
        if self.last.get(service) == mark:
            return
        self.last[service] = mark
        await self.events.publish(verdict(service, revision.revision, verdicts, self.clock()))

    def audit(self, service: str, record: dict[str, Any]) -> int:
        """Blocking: the audit record and its event, committed together."""
        with self.store.transaction():
            audit_id = self.store.audit_add(KIND, service, record)
            self.events.add(rollback(audit_id, record, self.clock()))
        return audit_id
