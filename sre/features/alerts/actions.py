"""``POST /slack/actions``: Slack's interactivity requests (the message buttons).

Every request is verified with the signing secret (HMAC ``v0``, 5-minute replay window)
before anything is parsed; 401 otherwise. The route answers 200 at once (Slack wants an
answer within 3 s) and does the work in a background task: Acknowledge records who and
when, Silence 1h/4h creates an Alertmanager silence (matchers = the group's common labels,
``createdBy`` = the Slack user), Roll back calls the rollback feature. The message change
is queued in the outbox like everything else, so it is delivered in order with the group.
A button that fails tells whoever pressed it why, in an ephemeral message (only they see
it), besides the log line, the audit record and ``sre_slack_actions_total``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs

from aiohttp import web

from sre.clients import ClientError
from sre.clients.alertmanager import AlertmanagerClient
from sre.features.alerts.metrics import ACTIONS, AlertMetrics
from sre.features.alerts.signature import verify
from sre.features.alerts.state import AlertState
from sre.runtime.events import publish_to, silence
from sre.runtime.http import read_limited

log = logging.getLogger(__name__)

SILENCE_HOURS = {"silence_1h": 1, "silence_4h": 4}
LABELS = {
    "ack": "Acknowledge",
    "silence_1h": "Silence 1h",
    "silence_4h": "Silence 4h",
    "rollback": "Roll back",
}


class ManualRollback(Protocol):
    """What the "Roll back" button needs (the rollback feature offers it)."""

    def has_target(self, service: str) -> bool:
        """True when ``service`` has a rollback target (the button is shown only then)."""
        ...

    async def request(self, service: str, *, requested_by: str, reason: str) -> str:
        """Roll ``service`` back through the same executor, safety checks and audit as the
        automatic trigger; return a one-line human summary of what happened."""
        ...


MAX_ACTION_BYTES = 256 * 1024


@dataclass(frozen=True)
class SlackUser:
    id: str
    name: str
    channel: str | None = None  # where the button was pressed: a failure is told there
    thread_ts: str | None = None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _user(payload: dict[str, Any]) -> SlackUser:
    user = payload.get("user")
    if not isinstance(user, dict):
        user = {}
    channel = payload.get("channel")
    container = payload.get("container")
    uid = str(user.get("id") or "unknown")
    return SlackUser(
        uid,
        str(user.get("username") or user.get("name") or uid),
        channel=_text(channel.get("id")) if isinstance(channel, dict) else None,
        thread_ts=_text(container.get("thread_ts")) if isinstance(container, dict) else None,
    )


class Actions:
    def __init__(
        self,
        state: AlertState,
        metrics: AlertMetrics,
        *,
        secret: str | None,
        clock: Callable[[], float],
        alertmanager: AlertmanagerClient | None,
        silence_base_url: str,
        rollbacks: ManualRollback | None,
        on_queued: Callable[[], None],
    ) -> None:
        self.state = state
        self.metrics = metrics
        self._secret = secret
        self.clock = clock
        self.alertmanager = alertmanager
        self.silence_base_url = silence_base_url.rstrip("/")
        self.rollbacks = rollbacks
        self.on_queued = on_queued
        self._tasks: set[asyncio.Task[None]] = set()

    async def handle(self, request: web.Request) -> web.Response:
        body = await read_limited(request, MAX_ACTION_BYTES)
        if body is None:
            return web.Response(status=413, text="body too large\n")
        if self._secret is None:
            return web.Response(status=401, text="Slack signing secret not configured\n")
        reason = verify(
            self._secret,
            timestamp=request.headers.get("X-Slack-Request-Timestamp"),
            signature=request.headers.get("X-Slack-Signature"),
            body=body,
            now=self.clock(),
        )
        if reason is not None:
            log.warning("rejected a Slack action request: %s", reason)
            return web.Response(status=401, text=f"{reason}\n")
        try:
            form = parse_qs(body.decode("utf-8"), strict_parsing=False)
            payload = json.loads(form["payload"][0])
            if not isinstance(payload, dict):
                raise ValueError("payload is not an object")
        except (UnicodeDecodeError, KeyError, IndexError, ValueError, RecursionError):
            return web.Response(status=400, text="expected a form field 'payload' with JSON\n")
        if payload.get("type") == "block_actions" and isinstance(payload.get("actions"), list):
            user = _user(payload)
            for action in payload["actions"]:
                if isinstance(action, dict) and action.get("action_id") in ACTIONS:
                    self._spawn(self._act(str(action["action_id"]), action.get("value"), user))
        return web.Response(status=200)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self, timeout: float) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    async def _group_key(self, value: dict[str, Any]) -> str:
        """The group a button names: its key, or (for very long keys) the key's SHA-256."""
        if "group_key" in value:
            return str(value["group_key"])
        digest = str(value["group_sha256"])
        for row in await self.state.firing_groups():
            if hashlib.sha256(row.group_key.encode()).hexdigest() == digest:
                return row.group_key
        raise KeyError(digest)

    async def _act(self, action: str, raw_value: Any, user: SlackUser) -> None:
        try:
            value = json.loads(raw_value) if isinstance(raw_value, str) else {}
            group_key = await self._group_key(value)
            outcome = await self._run(action, group_key, value, user)
        except (ValueError, KeyError, TypeError):
            outcome = "the button's value is not one of ours"
        except ClientError as err:
            outcome = f"failed: {err}"
        except Exception as err:
            log.exception("Slack action %s failed", action)
            outcome = f"failed: {type(err).__name__}"
        ok = outcome is None
        self.metrics.actions.labels(action=action, result="ok" if ok else "error").inc()
        record = {"user": user.name, "user_id": user.id, "error": outcome}
        await self.state.store.run(self.state.store.audit_add, "slack_action", action, record)
        if not ok:
            log.warning("Slack action %s by %s: %s", action, user.name, outcome)
            await self._reply(user, f"{LABELS[action]} did not work: {outcome}")

    async def _reply(self, user: SlackUser, text: str) -> None:
        """Tell the user who pressed the button, privately (an ephemeral message)."""
        if user.channel is None or user.id == "unknown":
            return  # nowhere to say it: the log line and the audit record remain
        await self.state.reply(user.channel, user.id, text, thread_ts=user.thread_ts)
        self.on_queued()

    async def _run(
        self, action: str, group_key: str, value: dict[str, Any], user: SlackUser
    ) -> str | None:
        """Do ``action``; None on success, else a one-line reason."""
        row = await self.state.group(group_key)
        if row is None:
            return "unknown alert group"
        labels = dict(row.view.common_labels) if row.view else {}
        name = labels.get("alertname", "alerts")
        now = self.clock()
        if action == "ack":
            await self.state.set_action_fields(group_key, ack_by=user.id, ack_at=now)
            await self._queue("refresh", group_key)
            return None
        if action in SILENCE_HOURS:
            if self.alertmanager is None:
                return "no alertmanager configured"
            hours = SILENCE_HOURS[action]
            matchers = labels or (dict(row.view.group_labels) if row.view else {})
            silence_id = await self.alertmanager.create_silence(
                matchers,
                starts_at=now,
                ends_at=now + hours * 3600,
                created_by=user.name,
                comment=f"Silenced {hours}h from Slack: {name}",
            )
            await publish_to(
                self.state.store,
                silence(
                    matchers,
                    silence_id=silence_id,
                    created_by=user.name,
                    starts_at=now,
                    ends_at=now + hours * 3600,
                    comment=f"Silenced {hours}h from Slack: {name}",
                ),
            )  # the deploys feature makes it a Grafana annotation
            url = f"{self.silence_base_url}/#/silences/{silence_id}"
            await self.state.set_action_fields(
                group_key, silence_id=silence_id, silence_url=url, silenced_by=user.id
            )
            await self._queue("refresh", group_key)
            await self._queue(
                "note", group_key, text=f"Silenced for {hours}h by <@{user.id}>: {url}"
            )
            return None
        # rollback
        service = str(value.get("service") or labels.get("service") or "")
        manual = self.rollbacks
        if manual is None or not service or not manual.has_target(service):
            return f"no rollback target for {service or 'this alert'}"
        try:
            summary = await manual.request(
                service, requested_by=user.name, reason=f"Slack button on {name} ({group_key})"
            )
        except Exception as err:
            await self._queue("note", group_key, text=f"Rollback of {service} failed: {err}")
            raise
        await self._queue("note", group_key, text=f"Rollback requested by <@{user.id}>: {summary}")
        return None

    async def _queue(self, kind: str, group_key: str, **data: Any) -> None:
        await self.state.enqueue(kind, group_key, **data)
        self.on_queued()
