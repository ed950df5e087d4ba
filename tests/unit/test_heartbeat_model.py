"""What POST /alertmanager/heartbeat accepts: a version 4 webhook with a firing Watchdog,
from either Alertmanager version; anything else is a PayloadError naming the field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sre.features.heartbeat.model import PayloadError, parse_heartbeat
from tests.helpers.alertmanager import alert_json, webhook


def body(alerts: list[Any] | None = None, **extra: Any) -> bytes:
    base = webhook([alert_json("Watchdog", severity="info")])
    if alerts is not None:
        base["alerts"] = alerts
    return json.dumps({**base, "receiver": "slack-heartbeat", **extra}).encode()


def test_a_watchdog_from_either_version_is_a_heartbeat() -> None:
    assert parse_heartbeat(body()).watchdogs == 1
    # Alertmanager 0.33 adds notification_reason (and may add more): ignored.
    newer = parse_heartbeat(body(notification_reason="repeat_interval", future={"x": 1}))
    assert (newer.receiver, newer.watchdogs) == ("slack-heartbeat", 1)
    two = [alert_json("Watchdog", fingerprint=f"fp{i}", replica=str(i)) for i in range(2)]
    assert parse_heartbeat(body(two)).watchdogs == 2


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff", "body is not valid JSON"),
        (b"[]", "body must be a JSON object"),
        (body(version="3"), 'version: expected "4", got "3"'),
        (body([]), "alerts: expected a non-empty list"),
        (body(["x"]), "alerts[0]: expected an object"),
        (body([{**alert_json("Watchdog"), "status": "gone"}]), "alerts[0].status: expected"),
        (body([{**alert_json("Watchdog"), "labels": {"a": 1}}]), "alerts[0].labels: expected"),
        (body(receiver=3), "receiver: expected a string"),
        (
            body([alert_json("Watchdog", status="resolved")]),
            "alerts: no firing Watchdog alert (got Watchdog (resolved))",
        ),
        (
            body([alert_json("ServiceDown")]),
            "alerts: no firing Watchdog alert (got ServiceDown (firing)); this endpoint takes "
            "only the heartbeat route",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "body "),
    ],
)
def test_bad_bodies_name_what_was_wrong(raw: bytes, reason: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_heartbeat(raw)
    assert str(caught.value).startswith(reason)
    assert "\n" not in str(caught.value)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=64),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.dictionaries(st.sampled_from(["version", "alerts", "receiver"]), json_values).map(
            lambda v: json.dumps({"version": "4", **v}).encode()
        ),
    )
)
def test_no_body_raises_anything_but_a_one_line_payload_error(raw: bytes) -> None:
    try:
        beat = parse_heartbeat(raw)
    except PayloadError as err:
        assert str(err) and "\n" not in str(err)
    else:
        assert beat.watchdogs >= 1
