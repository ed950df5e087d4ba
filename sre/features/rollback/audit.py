"""The audit trail of rollback decisions: store records, ``GET /rollbacks`` and the CLI.

Every decision that matters (a rollback, a dry run, a failed trigger the policy blocked, a
manual request) is one audit record of kind ``rollback`` with the queries, values and
thresholds it used; an executed rollback adds a second record (``phase: result``) with
each command's argv, exit code and output. Records are the same dicts in the store, the
HTTP endpoint and the CLI.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from sre.checks.rollback import Decision, Revision, TriggerVerdict
from sre.config import Service
from sre.runtime.store import AuditRecord, Store

KIND = "rollback"
MAX_VALUES = 120  # samples kept per verdict in a record
MAX_LIMIT = 1000


def verdict_dict(v: TriggerVerdict) -> dict[str, Any]:
    values = list(v.values)
    return {
        "trigger": v.trigger,
        "outcome": v.outcome,
        "reason": v.reason,
        "query": v.query,
        "threshold": v.threshold,
        "values": values[-MAX_VALUES:],
        "min": min(values) if values else None,
        "max": max(values) if values else None,
    }


def decision_record(
    svc: Service,
    decision: Decision,
    verdicts: Sequence[TriggerVerdict],
    revision: Revision | None,
    *,
    target: dict[str, Any],
    window: dict[str, float] | None,
    requested_by: str,
    enabled: bool,
) -> dict[str, Any]:
    """The audit record of one decision: what was seen (queries, values, thresholds)."""
    rb = svc.rollback
    assert rb is not None
    return {
        "phase": "decision",
        "service": svc.name,
        "action": decision.action,
        "reason": decision.reason,
        "trigger": decision.trigger,
        "requested_by": requested_by,
        "revision": revision.revision if revision else None,
        "previous": revision.previous if revision else None,
        "deployed_at": revision.deployed_at if revision else None,
        "verdicts": [verdict_dict(v) for v in verdicts],
        "window": window,
        "thresholds": {
            "error_rate_above": rb.error_rate_above,
            "latency_p95_above_seconds": rb.latency_p95_above_seconds,
            "health_failures": rb.health_failures,
            "min_request_rate": rb.min_request_rate,
            "for_seconds": rb.for_.seconds,
            "after_deploy_seconds": rb.after_deploy.seconds if rb.after_deploy else None,
            "cooldown_seconds": rb.cooldown.seconds,
        },
        "target": target,
        "dry_run": rb.dry_run,
        "enabled": enabled,
    }


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def record_view(rec: AuditRecord) -> dict[str, Any]:
    data = rec.data if isinstance(rec.data, dict) else {"data": rec.data}
    return {"id": rec.id, "ts": rec.ts, "time": iso(rec.ts), **data}


def list_records(store: Store, service: str | None, limit: int) -> list[dict[str, Any]]:
    return [record_view(r) for r in store.audit_list(KIND, service, limit)]


def routes(store: Store) -> list[web.RouteDef]:
    async def rollbacks(request: web.Request) -> web.Response:
        service = request.query.get("service") or None
        raw = request.query.get("limit", "100")
        # "²".isdigit() is True but int("²") fails: ASCII digits only.
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
            return web.json_response(
                {"error": f"limit must be a whole number from 1 to {MAX_LIMIT}"}, status=400
            )
        body = await store.run(list_records, store, service, int(raw))
        return web.json_response(body, dumps=lambda v: json.dumps(v, sort_keys=True))

    return [web.get("/rollbacks", rollbacks)]


def format_line(view: Mapping[str, Any]) -> str:
    """One line of ``python -m sre.daemon audit`` output."""
    what = view.get("action", "?")
    if view.get("phase") == "result":
        what = f"result={view.get('result')}"
    rev = f"{view.get('revision')}->{view.get('previous')}"
    return (
        f"{view['time']}  {view.get('service', '?'):<20} {what:<16} "
        f"{view.get('trigger') or '-':<10} {rev:<10} {view.get('requested_by', '-'):<12} "
        f"{view.get('reason', '')}"
    )
