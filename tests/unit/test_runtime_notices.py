"""Notices are queued once per key, wake whoever delivers them, and survive a round trip
through the outbox."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sre.runtime.notices import NOTICE_TOPIC, Notice, OutboxNotifier
from sre.runtime.store.sqlite import open_sqlite


def test_notice_is_queued_once_per_key_and_round_trips(tmp_path: Path) -> None:
    store = open_sqlite(tmp_path / "state.db", clock=lambda: 1000.0)
    try:
        notifier = OutboxNotifier(store)
        woken: list[int] = []
        notifier.subscribe(lambda: woken.append(1))
        notice = Notice(
            key="cost.anomaly:2026-11-25:AmazonEC2",
            title="AWS cost anomaly: Amazon EC2",
            text="*Amazon EC2* cost $400.00 yesterday, +$300.00 over its median",
            severity="warning",
            source="cost",
            fields={"baseline": "$100.00"},
            labels={"service": "Amazon EC2"},
        )
        assert asyncio.run(notifier.notify(notice)) is True
        assert asyncio.run(notifier.notify(notice)) is False
        assert woken == [1]  # once: the duplicate queued nothing
        (item,) = store.outbox_pending([NOTICE_TOPIC])
        assert item.payload["labels"] == {
            "service": "Amazon EC2",
            "severity": "warning",
            "source": "cost",
        }
        assert Notice.from_dict(item.payload) == notice
    finally:
        store.close()
