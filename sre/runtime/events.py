"""Events: durable facts one feature states and another acts on, without knowing each other.

A feature that sees something others may care about (the rollback feature: a new revision,
a verdict, a rollback; the alerts feature: a silence created from Slack) publishes an
:class:`Event`. It is written to the state store's outbox first (topic ``event``), so it
survives a restart; the deploys feature consumes the topic (Slack deploy threads, Grafana
annotations) and marks each event delivered in the same transaction that records what it
did with it. The event's ``key`` makes publishing idempotent: a key published before is
not published again.

:meth:`EventLog.add` is the blocking form, for code already inside a store transaction
(the event then commits, or not, with what it reports).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sre.runtime.store import Store

EVENT_TOPIC = "event"
KINDS = ("deploy", "verdict", "rollback", "silence")


@dataclass(frozen=True)
class Event:
    kind: str  # deploy | verdict | rollback | silence
    key: str  # idempotency key
    service: str  # "" when it concerns no one service (a silence without a service label)
    at: float  # epoch seconds: when it happened
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "service": self.service,
            "at": self.at,
            "data": dict(self.data),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Event:
        data = raw.get("data")
        return cls(
            kind=str(raw["kind"]),
            key=str(raw["key"]),
            service=str(raw.get("service") or ""),
            at=float(raw["at"]),
            data=dict(data) if isinstance(data, Mapping) else {},
        )


class Events(Protocol):
    """What a publishing feature is given."""

    def add(self, event: Event) -> bool:
        """Blocking: queue ``event`` (joins the caller's store transaction); False when its
        key was published before."""
        ...

    async def publish(self, event: Event) -> bool:
        """Queue ``event`` from async code; False when its key was published before."""
        ...


class EventLog:
    """The events every feature gets: store first. The consumer may ``subscribe`` to be
    woken when ``publish`` queued one (it also polls, for events queued by ``add`` inside
    a transaction, or by ``publish_to``)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def add(self, event: Event) -> bool:
        return self.store.outbox_add(EVENT_TOPIC, event.to_dict(), event.key) is not None

    async def publish(self, event: Event) -> bool:
        queued = await self.store.run(self.add, event)
        if queued:  # on the event loop's thread (``add`` may run on the store's)
            for listener in self._listeners:
                listener()
        return queued


async def publish_to(store: Store, event: Event) -> bool:
    """Publish with nothing but the store (for a feature that has no :class:`Events`)."""
    return await EventLog(store).publish(event)


def silence(
    matchers: Mapping[str, str],
    *,
    silence_id: str,
    created_by: str,
    starts_at: float,
    ends_at: float,
    comment: str,
) -> Event:
    """A silence created from Slack (``alerts``), for its annotation."""
    return Event(
        kind="silence",
        key=f"silence:{silence_id}",
        service=str(matchers.get("service", "")),
        at=starts_at,
        data={
            "silence_id": silence_id,
            "matchers": dict(matchers),
            "created_by": created_by,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "comment": comment,
        },
    )


class Discard:
    """Events nobody consumes: a feature built on its own (tests) publishes into nothing."""

    def add(self, event: Event) -> bool:
        return False

    async def publish(self, event: Event) -> bool:
        return False
