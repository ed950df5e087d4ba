"""An alert storm against the real daemon, and what Slack showed of it.

Used by ``benchmarks/storm`` (1,000 groups in 5 s, figures) and by the integration test
(a smaller storm, with SIGKILLs): each group is its own Alertmanager group with one alert
named ``Storm<NNNN>``; every ``critical_every``-th is critical (routed to ``#alerts``), the
rest warnings (``#devops-alerts``). :func:`analyse` reads the Slack server's record: when
each group first became visible (its own message, or a digest naming it), how many own
messages each got (duplicates), and the 429s.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from sre.devtools.fake_slack import FakeSlack
from sre.devtools.loopback import free_port
from tests.helpers.alertmanager import alert_json, webhook

TOKEN = "storm-webhook-token"
NAME = re.compile(r"Storm\d{4}")


def storm_config(tmp: Path, slack_url: str, **daemon: Any) -> dict[str, Any]:
    return {
        "system": "storm",
        "prometheus": {"url": "http://127.0.0.1:9"},
        "runbooks": {"base_url": "http://127.0.0.1/"},
        "services": [{"name": "api", "namespace": "ns"}],
        "daemon": {
            "listen": f"127.0.0.1:{free_port()}",
            "state": f"sqlite:///{tmp}/state.db",
            "shutdown_timeout": "5s",
            **daemon,
        },
        "slack": {
            "base_url": slack_url,
            "routes": [
                {"match": {"severity": "critical"}, "channel": "#alerts"},
                {"channel": "#devops-alerts"},
            ],
        },
    }


@dataclass(frozen=True)
class Sent:
    name: str
    critical: bool
    at: float  # wall clock, when the webhook was sent
    status: int  # HTTP status, 0 when no answer (the daemon was down)
    seconds: float  # response time


def group(i: int, critical_every: int) -> tuple[str, bool, bytes]:
    name = f"Storm{i:04d}"
    critical = i % critical_every == 0
    alert = alert_json(
        name,
        severity="critical" if critical else "warning",
        service=f"svc-{i % 50}",
        fingerprint=f"fp{i:04d}",
    )
    body = webhook([alert], group_key=f'{{}}:{{alertname="{name}"}}')
    return name, critical, json.dumps(body).encode()


async def send_storm(
    url: str, groups: int, seconds: float, *, critical_every: int = 20, first: int = 0
) -> list[Sent]:
    """``groups`` webhooks spread evenly over ``seconds`` (open loop: late answers do not
    slow the schedule); each retried until the daemon accepts it, as Alertmanager does."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    start = time.monotonic()
    out: list[Sent] = []

    async def one(session: aiohttp.ClientSession, i: int) -> None:
        await asyncio.sleep(max(0.0, start + (i - first) * seconds / groups - time.monotonic()))
        name, critical, body = group(i, critical_every)
        sent_at = time.time()
        while True:
            began = time.monotonic()
            try:
                async with session.post(url, data=body, headers=headers) as resp:
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError):
                status = 0
            if status == 200:
                out.append(Sent(name, critical, sent_at, status, time.monotonic() - began))
                return
            await asyncio.sleep(0.5)  # the daemon is down or busy: Alertmanager retries

    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(one(session, i) for i in range(first, first + groups)))
    return out


@dataclass(frozen=True)
class Seen:
    """One call the Slack server accepted: what it showed, where and when."""

    method: str  # chat.postMessage | chat.update
    channel: str
    ts: str  # the message's own ts (for an update: the message updated)
    thread_ts: str | None
    text: str  # the whole body as JSON text: names in blocks count too
    at: float
    post_id: str | None


def _post_id(body: dict[str, Any]) -> str | None:
    meta = body.get("metadata")
    payload = meta.get("event_payload") if isinstance(meta, dict) else None
    return str(payload.get("post_id")) if isinstance(payload, dict) else None


def record(slack: FakeSlack) -> dict[str, Any]:
    """What ``slack`` showed (every stored post and update, in order) and its 429 count."""
    seen: list[Seen] = []
    messages = {**slack.messages, **slack.replies}
    by_body = {id(m.body): m for m in messages.values()}
    for call in list(slack.calls):
        if call.method == "chat.postMessage":
            stored = by_body.get(id(call.body))
            if stored is None:
                continue  # refused (bad channel...): nothing was shown
            seen.append(
                Seen(call.method, stored.channel, stored.ts, stored.thread_ts,
                     json.dumps(call.body), call.received_at, _post_id(call.body))
            )  # fmt: skip
        elif call.method == "chat.update":
            seen.append(
                Seen(call.method, str(call.body.get("channel")), str(call.body.get("ts")), None,
                     json.dumps(call.body), call.received_at, None)
            )  # fmt: skip
    return {"seen": seen, "throttled": len(slack.throttled), "calls": len(slack.calls)}


@dataclass
class Report:
    groups: int
    visible: dict[str, float] = field(default_factory=dict)  # name -> first seen (wall)
    own_messages: dict[str, int] = field(default_factory=dict)  # name -> top-level posts
    first_own: dict[str, float] = field(default_factory=dict)  # name -> first own post
    throttled: int = 0
    digests: int = 0

    def duplicates(self) -> list[str]:
        return sorted(n for n, count in self.own_messages.items() if count > 1)

    def missing(self, names: list[str]) -> list[str]:
        return sorted(n for n in names if n not in self.visible)


def analyse(dump: dict[str, Any], groups: int) -> Report:
    """What the Slack server's record says of each ``Storm<NNNN>`` group."""
    report = Report(groups, throttled=int(dump["throttled"]))
    digest_ts: set[tuple[str, str]] = set()
    for seen in dump["seen"]:
        names = set(NAME.findall(seen.text))
        is_digest = "Alert storm in" in seen.text
        top_post = seen.method == "chat.postMessage" and seen.thread_ts is None
        if is_digest and top_post:
            digest_ts.add((seen.channel, seen.ts))
            report.digests += 1
        in_digest = is_digest or (seen.channel, seen.ts) in digest_ts
        for name in names:
            report.visible.setdefault(name, seen.at)
            if top_post and not in_digest and len(names) == 1:
                report.own_messages[name] = report.own_messages.get(name, 0) + 1
                report.first_own.setdefault(name, seen.at)
    return report
