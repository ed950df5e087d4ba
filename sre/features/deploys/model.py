"""What the deploys feature does with each event, and when a watch window ends. Pure.

A thread is one revision of one service. It opens ``rolling_out`` on a ``deploy`` event
(unless its watch window is over already), remembers the latest ``verdict`` event on its
revision, and reaches an outcome: ``rolled_back`` / ``rollback_failed`` when a rollback
from it finished, or, at the end of the watch window, ``verified`` (the triggers' latest
verdict passed), ``failing`` (a trigger failed and nothing rolled it back: dry run,
switched off, cooldown), ``no_verdict`` (no traffic, no data, Prometheus unreachable, or
no evaluation at all); ``superseded`` when a newer revision came first. A rollback's
events move a thread even after its window (a late rollback is still news).

Each reaction lists the rows to save, the Slack steps (``post`` the parent, ``update``
it from the row, ``reply`` in its thread) and the Grafana annotations to create.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sre.runtime.events import Event

ROLLING_OUT, ROLLING_BACK = "rolling_out", "rolling_back"
OPEN = (ROLLING_OUT, ROLLING_BACK)
RESULT_GRACE = 3600.0  # a rollback's result is this late after the window: given up on
OUTCOMES = (
    "verified",
    "rolled_back",
    "rollback_failed",
    "failing",
    "no_verdict",
    "superseded",
)


@dataclass(frozen=True)
class Thread:
    service: str
    revision: str
    previous: str | None
    deployed_at: float
    watch_until: float
    status: str = ROLLING_OUT
    detail: str = ""
    verdict: str | None = None  # the latest verdict's outcome: pass | fail | no_verdict
    verdict_line: str = ""
    channel: str | None = None  # where the parent message is, once posted
    ts: str | None = None


@dataclass(frozen=True)
class Settings:
    threads: bool  # deploy threads on (a ``deploys`` section)
    annotations: bool  # Grafana annotations on
    watch: Mapping[str, float]  # seconds, per service with a rollback block


@dataclass
class Reaction:
    threads: list[Thread] = field(default_factory=list)
    slack: list[dict[str, Any]] = field(default_factory=list)
    annotations: list[dict[str, Any]] = field(default_factory=list)
    settled: list[Thread] = field(default_factory=list)  # reached an outcome now

    def step(self, op: str, thread: Thread, text: str = "") -> None:
        step = {"op": op, "service": thread.service, "revision": thread.revision}
        self.slack.append({**step, "text": text} if text else step)

    def save(self, thread: Thread, *ops: str, reply: str = "") -> None:
        self.threads.append(thread)
        for op in ops:
            self.step(op, thread)
        if reply:
            self.step("reply", thread, reply)
        if thread.status in OUTCOMES:
            self.settled.append(thread)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _ms(epoch: float) -> int:
    return round(epoch * 1000)


def annotation(
    kind: str, service: str, at: float, text: str, end: float | None = None
) -> dict[str, Any]:
    """``POST /api/annotations`` body: tags are the kind and the service (when there is
    one), what the dashboards' annotation queries ask for."""
    body: dict[str, Any] = {
        "time": _ms(at),
        "tags": [kind, service] if service else [kind],
        "text": text,
    }
    if end is not None:
        body["timeEnd"] = _ms(end)
    return body


def react(
    event: Event,
    thread: Thread | None,
    others: Sequence[Thread],
    settings: Settings,
    now: float,
) -> Reaction:
    """``thread``: the event's own (its service and revision), if there is one;
    ``others``: the service's other threads still rolling out."""
    out = Reaction()
    data = event.data
    if event.kind == "deploy":
        _deploy(event, thread, others, settings, now=now, out=out)
    elif event.kind == "verdict" and thread is not None:
        line = str(data.get("line", ""))
        out.threads.append(replace(thread, verdict=str(data["outcome"]), verdict_line=line))
    elif event.kind == "rollback":
        _rollback(event, thread, settings, out)
    elif event.kind == "silence" and settings.annotations:
        who = data.get("created_by", "?")
        text = f"Silenced by {who}: {data.get('comment', '')}".strip()
        matchers = ", ".join(f"{k}={v}" for k, v in sorted(dict(data.get("matchers", {})).items()))
        out.annotations.append(
            annotation(
                "silence",
                event.service,
                float(data.get("starts_at", event.at)),
                f"{text} ({matchers})" if matchers else text,
                end=float(data["ends_at"]) if data.get("ends_at") is not None else None,
            )
        )
    return out


def _deploy(
    event: Event,
    thread: Thread | None,
    others: Sequence[Thread],
    settings: Settings,
    *,
    now: float,
    out: Reaction,
) -> None:
    data = event.data
    revision, previous = str(data["revision"]), data.get("previous")
    deployed_at = float(data.get("deployed_at") or event.at)
    if settings.annotations:
        was = f" (previous {previous})" if previous else ""
        text = f"{event.service} revision {revision} deployed{was}"
        out.annotations.append(annotation("deploy", event.service, deployed_at, text))
    watch = settings.watch.get(event.service)
    if not settings.threads or watch is None or thread is not None:
        return
    if deployed_at + watch <= now:  # seen only after its watch window: nothing to watch
        return
    opened = Thread(
        service=event.service,
        revision=revision,
        previous=str(previous) if previous is not None else None,
        deployed_at=deployed_at,
        watch_until=deployed_at + watch,
        detail=f"watching its rollback triggers for {watch:.0f}s",
    )
    out.save(opened, "post")
    for older in others:
        if older.revision != revision and older.status == ROLLING_OUT:
            gone = replace(older, status="superseded", detail=f"superseded by revision {revision}")
            out.save(gone, "update", reply=f"Superseded by revision {revision}.")


def _rollback(event: Event, thread: Thread | None, settings: Settings, out: Reaction) -> None:
    data = event.data
    phase, action = data.get("phase"), data.get("action")
    revision, previous = data.get("revision"), data.get("previous")
    trigger, reason = data.get("trigger") or "?", data.get("reason", "")
    seen = str(data.get("summary") or "")
    if phase == "result":
        ok = data.get("result") == "success"
        to = data.get("revision_after") or previous
        if settings.annotations:
            text = (
                f"{event.service} rolled back from revision {revision} to {to}: "
                f"{'success' if ok else 'FAILED'} (trigger {trigger}: {reason})"
            )
            at = float(data.get("started_at") or event.at)
            out.annotations.append(annotation("rollback", event.service, at, text))
        if thread is not None:
            status = "rolled_back" if ok else "rollback_failed"
            detail = (
                f"rolled back to revision {to} (trigger {trigger}: {reason})"
                if ok
                else f"the rollback to revision {previous} FAILED (trigger {trigger}: {reason})"
            )
            out.save(
                replace(thread, status=status, detail=detail),
                "update",
                reply=_sentence(detail) + ".",
            )
        return
    if thread is None or phase != "decision":
        return
    why = f"{seen}" if seen else reason
    if action == "rollback":
        detail = f"rolling back to revision {previous}: trigger {trigger} failed"
        rolling = replace(thread, status=ROLLING_BACK, detail=detail)
        out.save(rolling, "update", reply=f"Rolling back to revision {previous}: {why}")
    elif action == "dry_run":
        out.step("reply", thread, f"Would roll back to revision {previous} (dry run): {why}")
    else:
        out.step("reply", thread, f"Trigger {trigger} failed, not rolled back: {reason}")


def settle(thread: Thread, now: float) -> Reaction | None:
    """The end of a rolling-out thread's watch window: its outcome from the latest
    verdict on its revision. None while the window lasts (or it has an outcome). A thread
    still rolling back an hour after its window gets "no verdict": the rollback's result
    was never recorded (the daemon died while it ran)."""
    line = thread.verdict_line
    if thread.status == ROLLING_BACK and now >= thread.watch_until + RESULT_GRACE:
        status, detail = "no_verdict", "no verdict: the rollback's result was never recorded"
    elif thread.status != ROLLING_OUT or now < thread.watch_until:
        return None
    elif thread.verdict == "pass":
        status, detail = "verified", f"every trigger passed at the end of the watch: {line}"
    elif thread.verdict == "fail":
        status, detail = "failing", f"a trigger failed and it was not rolled back: {line}"
    else:
        status = "no_verdict"
        detail = f"no verdict: {line}" if line else "no verdict: the triggers were not evaluated"
    out = Reaction()
    out.save(
        replace(thread, status=status, detail=detail),
        "update",
        reply=_sentence(detail),
    )
    return out
