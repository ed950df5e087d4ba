"""Lanes: which pending outbox items must go in order, and which of them is next.

Items of one lane (an alert group, a notice thread, a digest, a digest's detail replies, a
user's replies) go strictly in order; only a lane's oldest pending item is a candidate.
A digest update renders the whole digest from the store when it runs, so of several
pending updates of one digest only the newest needs Slack: the older ones are *stale*.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from sre.runtime.notices import NOTICE_TOPIC
from sre.runtime.store import OutboxItem


def kind_of(item: OutboxItem) -> object:
    return item.payload.get("kind") if isinstance(item.payload, dict) else None


def lane_of(item: OutboxItem) -> str:
    payload = item.payload if isinstance(item.payload, dict) else {}
    if item.topic == NOTICE_TOPIC:
        return f"n:{payload.get('thread_key') or item.key}"
    if payload.get("kind") == "reply":
        return f"u:{payload.get('user')}"
    if payload.get("kind") == "digest_details":  # not behind the digest's own updates
        return f"dd:{payload.get('digest_id')}"
    if "digest_id" in payload:
        return f"d:{payload['digest_id']}"
    return f"g:{payload.get('group_key')}"


def heads(
    items: Iterable[OutboxItem], busy: Collection[str]
) -> tuple[dict[str, OutboxItem], list[int]]:
    """``(each lane's oldest item, ids of stale digest updates)``. An update is stale when
    a newer one of its digest is pending and its lane has nothing older or in flight."""
    ordered = sorted(items, key=lambda i: i.id)
    newest: dict[str, int] = {}
    for item in ordered:
        if kind_of(item) == "digest_update":
            newest[lane_of(item)] = item.id
    first: dict[str, OutboxItem] = {}
    stale: list[int] = []
    for item in ordered:
        lane = lane_of(item)
        if lane in first:
            continue
        if kind_of(item) == "digest_update" and item.id < newest[lane] and lane not in busy:
            stale.append(item.id)
            continue
        first[lane] = item
    return first, stale
