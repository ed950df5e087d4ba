"""An alert group as the alerts feature knows it: Alertmanager's webhook (version 4),
parsed once, at the edge, into frozen dataclasses.

:func:`parse_notification` validates a request body strictly: anything a client sends that
is not this shape raises :class:`PayloadError` with a one-line reason naming the field,
which the route answers with 400. Nothing there can raise anything else for any JSON
value, so bad input can never become a 500 (a property test checks it).

From then on the feature passes the typed :class:`Notification` around and stores it with
``to_dict`` / ``from_dict``, whose shape is the webhook's own (so rows written before this
model existed read back unchanged).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Alertmanager's "zero" time for endsAt of a firing alert.
_ZERO_TIME_PREFIX = "0001-01-01"


class PayloadError(ValueError):
    """The body is not a valid version 4 webhook; the message is one line."""


@dataclass(frozen=True)
class Alert:
    status: str  # firing | resolved
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: str
    ends_at: str
    generator_url: str
    fingerprint: str

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    def starts_epoch(self) -> float | None:
        return parse_time(self.starts_at)

    def ends_epoch(self) -> float | None:
        return parse_time(self.ends_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "startsAt": self.starts_at,
            "endsAt": self.ends_at,
            "generatorURL": self.generator_url,
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        """Read back what :meth:`to_dict` wrote (trusted: it was validated on receipt)."""
        return cls(
            status=str(data["status"]),
            labels=dict(data.get("labels") or {}),
            annotations=dict(data.get("annotations") or {}),
            starts_at=str(data.get("startsAt") or ""),
            ends_at=str(data.get("endsAt") or ""),
            generator_url=str(data.get("generatorURL") or ""),
            fingerprint=str(data.get("fingerprint") or ""),
        )


@dataclass(frozen=True)
class Notification:
    version: str
    group_key: str
    status: str
    receiver: str
    group_labels: Mapping[str, str]
    common_labels: Mapping[str, str]
    common_annotations: Mapping[str, str]
    external_url: str
    alerts: tuple[Alert, ...]
    truncated_alerts: int = 0

    @property
    def firing(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.alerts if a.status == "firing")

    def to_dict(self) -> dict[str, Any]:
        """The webhook's own shape (version 4)."""
        return {
            "version": self.version,
            "groupKey": self.group_key,
            "status": self.status,
            "receiver": self.receiver,
            "groupLabels": dict(self.group_labels),
            "commonLabels": dict(self.common_labels),
            "commonAnnotations": dict(self.common_annotations),
            "externalURL": self.external_url,
            "alerts": [a.to_dict() for a in self.alerts],
            "truncatedAlerts": self.truncated_alerts,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Notification:
        """Read back what :meth:`to_dict` wrote (or a stored webhook body)."""
        return cls(
            version=str(data.get("version") or "4"),
            group_key=str(data.get("groupKey") or ""),
            status=str(data.get("status") or "firing"),
            receiver=str(data.get("receiver") or ""),
            group_labels=dict(data.get("groupLabels") or {}),
            common_labels=dict(data.get("commonLabels") or {}),
            common_annotations=dict(data.get("commonAnnotations") or {}),
            external_url=str(data.get("externalURL") or ""),
            alerts=tuple(Alert.from_dict(a) for a in data.get("alerts") or ()),
            truncated_alerts=int(data.get("truncatedAlerts") or 0),
        )


def parse_time(text: str) -> float | None:
    """RFC 3339 -> epoch seconds; ``None`` for Alertmanager's zero time or junk."""
    if not text or text.startswith(_ZERO_TIME_PREFIX):
        return None
    try:
        parsed = datetime.fromisoformat(text)  # 3.11: takes Z and Go's 9 digits
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _str(data: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise PayloadError(f"{where}{key}: expected a string")
    return value


def _labels(data: Mapping[str, Any], key: str, where: str) -> dict[str, str]:
    value = data.get(key, {})
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise PayloadError(f"{where}{key}: expected a mapping of strings to strings")
    return dict(value)


def _alert(data: object, index: int) -> Alert:
    where = f"alerts[{index}]."
    if not isinstance(data, dict):
        raise PayloadError(f"alerts[{index}]: expected an object")
    status = _str(data, "status", where)
    if status not in ("firing", "resolved"):
        raise PayloadError(f"{where}status: expected 'firing' or 'resolved'")
    labels = _labels(data, "labels", where)
    if not labels.get("alertname"):
        raise PayloadError(f"{where}labels.alertname: missing")
    starts_at = _str(data, "startsAt", where)
    if parse_time(starts_at) is None:
        raise PayloadError(f"{where}startsAt: not an RFC 3339 time")
    return Alert(
        status=status,
        labels=labels,
        annotations=_labels(data, "annotations", where),
        starts_at=starts_at,
        ends_at=_str(data, "endsAt", where, required=False),
        generator_url=_str(data, "generatorURL", where, required=False),
        fingerprint=_str(data, "fingerprint", where),
    )


def parse_notification(body: bytes) -> Notification:
    """Parse a webhook body; raise :class:`PayloadError` with a one-line reason."""
    try:
        data = json.loads(body)
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError, a 5000-digit integer
        raise PayloadError(f"body is not valid JSON: {str(err).splitlines()[0]}") from None
    except RecursionError:
        raise PayloadError("body is nested too deeply") from None
    if not isinstance(data, dict):
        raise PayloadError("body must be a JSON object")
    version = data.get("version")
    if version != "4":
        raise PayloadError(f'version: expected "4", got {json.dumps(version)[:20]}')
    status = _str(data, "status", "")
    if status not in ("firing", "resolved"):
        raise PayloadError("status: expected 'firing' or 'resolved'")
    alerts = data.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise PayloadError("alerts: expected a non-empty list")
    truncated = data.get("truncatedAlerts", 0)
    if isinstance(truncated, bool) or not isinstance(truncated, int) or truncated < 0:
        raise PayloadError("truncatedAlerts: expected a non-negative integer")
    return Notification(
        version=version,
        group_key=_str(data, "groupKey", ""),
        status=status,
        receiver=_str(data, "receiver", "", required=False),
        group_labels=_labels(data, "groupLabels", ""),
        common_labels=_labels(data, "commonLabels", ""),
        common_annotations=_labels(data, "commonAnnotations", ""),
        external_url=_str(data, "externalURL", "", required=False),
        alerts=tuple(_alert(a, i) for i, a in enumerate(alerts)),
        truncated_alerts=truncated,
    )
