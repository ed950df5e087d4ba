"""Notices: what daemon features (rollbacks, cost, backups) announce to people.

A feature never talks to Slack itself. It builds a :class:`Notice` and hands it to a
:class:`Notifier`, which writes it to the state store's outbox first (topic ``notice``);
the delivery worker posts it from there, with retries, surviving restarts. The notice's
``key`` makes it idempotent: the same key is announced once ("once per anomaly per day" is
just a key like ``cost.anomaly:2026-11-25:AmazonEC2``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from sre.runtime.store import Store

NOTICE_TOPIC = "notice"


@dataclass(frozen=True)
class Notice:
    key: str  # idempotency key: a key already announced is not announced again
    title: str  # one line, plain text
    text: str  # Slack mrkdwn body: what was seen, what was done, the result
    severity: str = "info"  # critical | warning | info | resolved (colour and emoji)
    source: str = "sre"  # rollback | cost | backup | ... (for routing and the footer)
    fields: Mapping[str, str] = field(default_factory=dict)  # short name/value pairs
    labels: Mapping[str, str] = field(default_factory=dict)  # matched by slack.routes
    # Post as a thread reply under the notice with this key (e.g. a rollback's result).
    thread_key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["fields"] = dict(self.fields)
        out["labels"] = {**self.labels, "severity": self.severity, "source": self.source}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Notice:
        labels = {k: v for k, v in data.get("labels", {}).items() if k not in ("severity",)}
        labels.pop("source", None)
        return cls(
            key=str(data["key"]),
            title=str(data["title"]),
            text=str(data["text"]),
            severity=str(data.get("severity", "info")),
            source=str(data.get("source", "sre")),
            fields=dict(data.get("fields", {})),
            labels=labels,
            thread_key=data.get("thread_key"),
        )


class Notifier(Protocol):
    async def notify(self, notice: Notice) -> bool:
        """Queue ``notice``; False when its key was announced before (nothing queued)."""
        ...


class OutboxNotifier:
    """The notifier every feature gets: store first, deliver later. Whoever delivers the
    outbox (the alerts feature) may ``subscribe`` to be woken when a notice is queued."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def add(self, notice: Notice) -> bool:
        """Blocking: queue ``notice`` inside the caller's store transaction (the store's
        typed operations join it), so that it commits with the state change it announces,
        or not at all. Call :meth:`wake` once that transaction has committed."""
        return self.store.outbox_add(NOTICE_TOPIC, notice.to_dict(), notice.key) is not None

    def wake(self) -> None:
        """Tell whoever delivers the outbox that something was queued."""
        for listener in self._listeners:
            listener()

    async def notify(self, notice: Notice) -> bool:
        queued = await self.store.run(
            self.store.outbox_add, NOTICE_TOPIC, notice.to_dict(), notice.key
        )
        if queued is not None:
            for listener in self._listeners:
                listener()
        return queued is not None
