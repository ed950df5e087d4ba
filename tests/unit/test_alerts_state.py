"""The alert feature's tables: atomic receipt with dedup, action fields kept apart from
delivery's writes, pruning."""

from __future__ import annotations

import json
from pathlib import Path

from sre.daemon.store import Store
from sre.jobs.alerts.state import AlertState, GroupRow
from sre.notify.payload import parse_notification
from tests.helpers.alertmanager import alert_json, webhook


def test_receipt_dedup_actions_and_prune(tmp_path: Path) -> None:
    now = [1_000_000.0]
    store = Store(tmp_path / "s.db", clock=lambda: now[0])
    state = AlertState(store)
    text = json.dumps(webhook([alert_json(fingerprint="a"), alert_json(fingerprint="b")]))
    note = parse_notification(text.encode())
    first = state.receive(note, text, now[0])
    assert first is not None and state.receive(note, text, now[0]) is None
    (item,) = store.outbox_due("alerts")
    assert item.payload["new"] == ["a", "b"] and item.payload["body"] == text

    state.save_group(GroupRow("g", channel="C1", ts="1.0", view={"x": 1}))
    assert state.set_action_fields("g", ack_by="U1", ack_at=5.0)
    assert not state.set_action_fields("unknown", ack_by="U1")
    state.save_group(GroupRow("g", channel="C1", ts="1.0", status="resolved"))  # stale copy
    row = state.group("g")
    assert row is not None and (row.ack_by, row.ack_at, row.status) == ("U1", 5.0, "resolved")

    store.outbox_delivered(item.id)
    now[0] += 31 * 86400
    assert state.prune() == 3  # two dedup keys and the delivered row
    assert state.receive(note, text, now[0]) is not None  # forgotten: accepted again
    store.close()
