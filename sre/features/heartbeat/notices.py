"""What the dead man's switch tells people: the heartbeat stopped, and it is back.

Pure functions from an outage to a Slack notice and a PagerDuty event. The outage number
names both, so each is queued once: notice keys ``heartbeat.missing:<n>`` /
``heartbeat.back:<n>``, and one PagerDuty ``dedup_key`` per outage, shared by its trigger
and its resolve.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sre.config.durations import Duration
from sre.runtime.notices import Notice

SOURCE = "heartbeat"


@dataclass(frozen=True)
class Outage:
    number: int
    last_seen: float | None  # the last heartbeat before it; None: none the store knows of
    silent_since: float  # the last heartbeat, or when the daemon began waiting for one
    max_silence: Duration
    system: str
    environment: str

    @property
    def dedup_key(self) -> str:
        return f"sre-heartbeat/{self.system}/{self.environment}/{self.number}"


def span(seconds: float) -> str:
    """``312.4`` -> ``5m12s``."""
    return str(Duration.of(seconds=max(0, round(seconds))))


def when(epoch: float | None) -> str:
    if epoch is None:
        return "never (since the daemon started)"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def missing_notice(outage: Outage, now: float, *, paged: bool) -> Notice:
    silent = span(now - outage.silent_since)
    return Notice(
        key=f"heartbeat.missing:{outage.number}",
        title=f"Alerting pipeline silent: no Watchdog heartbeat for {silent}",
        text=(
            "Alertmanager has not delivered the always-firing `Watchdog` alert to the SRE "
            f"daemon for *{silent}* (allowed: {outage.max_silence}). Prometheus, its rules or "
            "Alertmanager may be down, or cannot reach the daemon: *other alerts may not "
            "arrive either*. Check Prometheus' `/alerts`, Alertmanager's `/#/status` and its "
            "log for failed notifications to the daemon."
            + (" PagerDuty was paged." if paged else "")
        ),
        severity="critical",
        source=SOURCE,
        fields={
            "last heartbeat": when(outage.last_seen),
            "max_silence": str(outage.max_silence),
            "system": f"{outage.system} ({outage.environment})",
        },
    )


def back_notice(outage: Outage, now: float, *, paged: bool) -> Notice:
    silent = span(now - outage.silent_since)
    return Notice(
        key=f"heartbeat.back:{outage.number}",
        title=f"Alerting pipeline back: Watchdog heartbeat received after {silent} of silence",
        text=(
            "Alertmanager delivers the `Watchdog` heartbeat again. Alerts that fired during "
            "the silence arrive now if they are still firing; check what resolved meanwhile."
            + (" The PagerDuty incident is resolved." if paged else "")
        ),
        severity="resolved",
        source=SOURCE,
        fields={"silent": silent, "system": f"{outage.system} ({outage.environment})"},
    )


def trigger_event(outage: Outage, now: float) -> dict[str, Any]:
    """A PagerDuty Events v2 trigger (the client adds the routing key)."""
    silent = span(now - outage.silent_since)
    return {
        "event_action": "trigger",
        "dedup_key": outage.dedup_key,
        "client": "sre daemon",
        "payload": {
            "summary": (
                f"{outage.system} {outage.environment}: alerting pipeline silent, no Watchdog "
                f"heartbeat from Alertmanager for {silent}"
            )[:1024],
            "source": f"sre-daemon/{outage.system}/{outage.environment}",
            "severity": "critical",
            "timestamp": datetime.fromtimestamp(now, UTC).isoformat(),
            "component": "alertmanager",
            "group": outage.system,
            "class": "heartbeat",
            "custom_details": {
                "last_heartbeat": when(outage.last_seen),
                "max_silence": str(outage.max_silence),
            },
        },
    }


def resolve_event(outage: Outage) -> dict[str, Any]:
    return {"event_action": "resolve", "dedup_key": outage.dedup_key}
