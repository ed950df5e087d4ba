"""The alert feature's tables: atomic receipt with dedup, action fields kept apart from
delivery's writes, pruning, and a group read back as the typed model it was stored as."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sre.features.alerts.model import Notification, parse_notification
from sre.features.alerts.state import AlertState, GroupRow
from sre.runtime.store.sqlite import open_sqlite
from tests.helpers.alertmanager import alert_json, webhook


def test_receipt_dedup_actions_and_prune(tmp_path: Path) -> None:
    now = [1_000_000.0]
    store = open_sqlite(tmp_path / "s.db", clock=lambda: now[0])
    state = AlertState(store)
    text = json.dumps(webhook([alert_json(fingerprint="a"), alert_json(fingerprint="b")]))
    note = parse_notification(text.encode())

    async def go() -> None:
        first = await state.receive(note, now[0])
        assert first is not None and await state.receive(note, now[0]) is None
        (item,) = await state.pending()
        assert item.payload["new"] == ["a", "b"]
        assert Notification.from_dict(item.payload["notification"]) == note  # parsed once

        await state.save_group(GroupRow("g", channel="C1", ts="1.0", view=note))
        assert await state.set_action_fields("g", ack_by="U1", ack_at=5.0)
        assert not await state.set_action_fields("unknown", ack_by="U1")
        stale = GroupRow("g", channel="C1", ts="1.0", status="resolved", view=note)
        await state.save_group(stale)
        row = await state.group("g")
        assert row is not None and (row.ack_by, row.ack_at, row.status) == ("U1", 5.0, "resolved")
        assert row.view == note

        await state.delivered(item.id)
        now[0] += 31 * 86400
        assert await state.prune() == 3  # two dedup keys and the delivered row
        assert await state.receive(note, now[0]) is not None  # forgotten: accepted again

    try:
        asyncio.run(go())
    finally:
        store.close()


def test_a_group_stored_as_a_raw_webhook_reads_back_typed(tmp_path: Path) -> None:
    # Rows written before the typed model hold the webhook JSON itself: the same shape.
    store = open_sqlite(tmp_path / "s.db")
    state = AlertState(store)
    raw = webhook([alert_json(fingerprint="a")], group_key="g")
    with store.transaction() as tx:
        tx.execute(
            "INSERT INTO alert_groups (group_key, channel, ts, view, updated_at) "
            "VALUES ('g', 'C1', '1.0', :view, 0)",
            {"view": json.dumps(raw)},
        )
    try:
        row = asyncio.run(state.group("g"))
        assert row is not None and row.view == parse_notification(json.dumps(raw).encode())
    finally:
        store.close()
