"""What ``POST /alertmanager/heartbeat`` accepts: Alertmanager's webhook (version 4) that
carries the always-firing ``Watchdog``.

Parsed strictly, at the edge: anything else raises :class:`PayloadError` with a one-line
reason naming the field, which the route answers with 400. Keys this parser does not read
(Alertmanager 0.33's ``notification_reason``, ``groupKey``, ``truncatedAlerts``, ...) are
ignored, so a newer Alertmanager's additions are accepted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

WATCHDOG = "Watchdog"


class PayloadError(ValueError):
    """The body is not a heartbeat; the message is one line."""


@dataclass(frozen=True)
class Heartbeat:
    receiver: str  # the Alertmanager receiver that sent it (``<receiver>-heartbeat``)
    watchdogs: int  # firing Watchdog alerts in it (one per Prometheus replica)


def parse_heartbeat(body: bytes) -> Heartbeat:
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
    receiver = data.get("receiver", "")
    if not isinstance(receiver, str):
        raise PayloadError("receiver: expected a string")
    alerts = data.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise PayloadError("alerts: expected a non-empty list")
    watchdogs = 0
    seen: list[str] = []
    for i, alert in enumerate(alerts):
        if not isinstance(alert, dict):
            raise PayloadError(f"alerts[{i}]: expected an object")
        status = alert.get("status")
        if status not in ("firing", "resolved"):
            raise PayloadError(f"alerts[{i}].status: expected 'firing' or 'resolved'")
        labels = alert.get("labels")
        if not isinstance(labels, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
        ):
            raise PayloadError(f"alerts[{i}].labels: expected a mapping of strings to strings")
        name = labels.get("alertname", "")
        if name == WATCHDOG and status == "firing":
            watchdogs += 1
        else:
            seen.append(f"{name or '(no alertname)'} ({status})")
    if not watchdogs:
        got = ", ".join(seen[:3]) + (", ..." if len(seen) > 3 else "")
        raise PayloadError(
            f"alerts: no firing {WATCHDOG} alert (got {got[:200]}); this endpoint takes only "
            "the heartbeat route"
        )
    return Heartbeat(receiver, watchdogs)
