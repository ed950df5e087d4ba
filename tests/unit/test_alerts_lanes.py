"""Lanes: one item at a time per lane, and of a digest's pending updates only the newest."""

from __future__ import annotations

from typing import Any

from sre.features.alerts.lanes import heads, lane_of
from sre.runtime.store import OutboxItem


def item(item_id: int, **payload: Any) -> OutboxItem:
    return OutboxItem(
        id=item_id,
        topic="alerts",
        key=None,
        payload=payload,
        status="pending",
        attempts=0,
        next_attempt_at=0.0,
        created_at=0.0,
        delivered_at=None,
        last_error=None,
        sending_at=None,
    )


def test_a_digest_posts_first_then_only_its_newest_update_and_details_apart() -> None:
    post = item(1, kind="digest_post", digest_id=7)
    updates = [item(i, kind="digest_update", digest_id=7) for i in (2, 4, 6)]
    details = [item(i, kind="digest_details", digest_id=7, group_keys=["g"]) for i in (3, 5)]
    group = item(8, kind="notification", group_key="g1")
    pending = [post, *updates, *details, group]

    first, stale = heads(pending, busy=set())
    assert {lane: i.id for lane, i in first.items()} == {"d:7": 1, "dd:7": 3, "g:g1": 8}
    assert stale == []  # the digest is not posted yet: nothing behind it is touched

    first, stale = heads([*updates, *details, group], busy=set())  # posted
    assert first["d:7"].id == 6 and stale == [2, 4]
    first, stale = heads([*updates, *details], busy={"d:7"})  # update 2 in flight
    assert first["d:7"].id == 2 and stale == []
    assert lane_of(details[0]) == "dd:7" and lane_of(updates[0]) == "d:7"
