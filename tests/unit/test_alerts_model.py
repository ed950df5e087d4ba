"""Alertmanager v4 webhook parsing: good bodies parse, every bad one gets a one-line 400."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sre.features.alerts.model import PayloadError, parse_notification, parse_time

GOOD: dict[str, Any] = {
    "version": "4",
    "groupKey": '{}:{alertname="ServiceHighErrorRate"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "sre-daemon",
    "groupLabels": {"alertname": "ServiceHighErrorRate"},
    "commonLabels": {"alertname": "ServiceHighErrorRate", "severity": "critical"},
    "commonAnnotations": {"summary": "High error rate"},
    "externalURL": "http://alertmanager.monitoring:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "ServiceHighErrorRate", "service": "api-service"},
            "annotations": {"summary": "High error rate", "description": "12% errors"},
            "startsAt": "2026-11-26T20:00:00.123456789Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus/graph?g0.expr=x",
            "fingerprint": "a1b2c3d4e5f60718",
        }
    ],
}


def body(data: object) -> bytes:
    return json.dumps(data).encode()


def test_parses_a_version_4_webhook() -> None:
    note = parse_notification(body(GOOD))
    assert note.group_key == '{}:{alertname="ServiceHighErrorRate"}'
    assert note.status == "firing"
    (alert,) = note.alerts
    assert alert.name == "ServiceHighErrorRate"
    assert alert.fingerprint == "a1b2c3d4e5f60718"
    assert alert.starts_epoch() == pytest.approx(1795723200.123456)
    assert alert.ends_epoch() is None  # Alertmanager's zero time


def broken(path: list[str | int], value: object) -> bytes:
    data: Any = copy.deepcopy(GOOD)
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body(data)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "body is not valid JSON: Expecting property name enclosed in double quotes"),
        (b"\xff\xfe", "body is not valid JSON"),
        (b"[1, 2]", "body must be a JSON object"),
        (broken(["version"], "3"), 'version: expected "4", got "3"'),
        (broken(["status"], "burning"), "status: expected 'firing' or 'resolved'"),
        (broken(["alerts"], []), "alerts: expected a non-empty list"),
        (broken(["groupKey"], KeyError), "groupKey: expected a string"),
        (broken(["commonLabels"], {"a": 1}), "commonLabels: expected a mapping of strings"),
        (broken(["alerts", 0, "fingerprint"], None), "alerts[0].fingerprint: expected a string"),
        (broken(["alerts", 0, "startsAt"], "yesterday"), "alerts[0].startsAt: not an RFC 3339"),
        (broken(["alerts", 0, "labels"], {"x": "y"}), "alerts[0].labels.alertname: missing"),
        (broken(["alerts", 0], "oops"), "alerts[0]: expected an object"),
        (broken(["truncatedAlerts"], -1), "truncatedAlerts: expected a non-negative integer"),
        (b"[" * 100_000 + b"]" * 100_000, "body"),
        # Python refuses integers over 4300 digits with a plain ValueError.
        (b'{"version": "4", "truncatedAlerts": ' + b"9" * 5000 + b"}", "body is not valid JSON"),
    ],
)
def test_bad_bodies_get_a_one_line_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_notification(raw)
    message = str(caught.value)
    assert message.startswith(reason)
    assert "\n" not in message


def test_parse_time() -> None:
    assert parse_time("2026-11-26T20:00:00Z") == 1795723200.0
    assert parse_time("0001-01-01T00:00:00Z") is None
    assert parse_time("garbage") is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_body_either_parses_or_raises_payload_error(raw: bytes) -> None:
    try:
        parse_notification(raw)
    except PayloadError as err:
        assert "\n" not in str(err)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(list(GOOD)), json_values))
def test_mutated_webhooks_never_raise_anything_else(overrides: dict[str, Any]) -> None:
    data = {**copy.deepcopy(GOOD), **overrides}
    try:
        note = parse_notification(body(data))
    except PayloadError as err:
        assert "\n" not in str(err)
    else:
        assert note.version == "4"
        assert all(a.status in ("firing", "resolved") for a in note.alerts)
