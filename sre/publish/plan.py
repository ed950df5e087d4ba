"""Pure publish planning: what would change in Grafana, by meaning, with a short diff.

Nothing here does I/O. ``publish.py`` fetches what Grafana holds, asks this module what to
do, prints the plan and applies it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

# Grafana owns these: it assigns ``id`` and bumps ``version`` on every save, so a dashboard
# that differs only in them has not changed.
IGNORED_KEYS = frozenset({"id", "version"})
MAX_DIFF_LINES = 6

Action = Literal["create", "update", "unchanged"]


@dataclass(frozen=True)
class DashboardPlan:
    uid: str
    title: str
    action: Action
    # Short, human lines: "~ panels[id=4].targets[0].expr", "+ panels[id=9]", ...
    changes: tuple[str, ...] = ()
    # The version we planned against; sent back so a concurrent edit gets a 412.
    remote_version: int | None = None


@dataclass(frozen=True)
class PrunePlan:
    uid: str
    title: str


def normalise(dashboard: Mapping[str, Any]) -> dict[str, Any]:
    """The dashboard as we compare it: without Grafana's bookkeeping keys (top level only)."""
    return {k: v for k, v in dashboard.items() if k not in IGNORED_KEYS}


def _keyed(items: list[Any]) -> dict[str, Any] | None:
    """Lists of objects with unique ids (panels) are matched by id, not by position."""
    if not items or not all(isinstance(i, dict) and "id" in i for i in items):
        return None
    keys = [f"id={i['id']}" for i in items]
    if len(set(keys)) != len(keys):
        return None
    return dict(zip(keys, items, strict=True))


def _short(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _diff(old: Any, new: Any, path: str, out: list[str]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old:
                out.append(f"+ {sub}")
            elif key not in new:
                out.append(f"- {sub}")
            else:
                _diff(old[key], new[key], sub, out)
        return
    if isinstance(old, list) and isinstance(new, list):
        old_keyed, new_keyed = _keyed(old), _keyed(new)
        if old_keyed is not None and new_keyed is not None:
            _diff_keyed(old_keyed, new_keyed, path, out)
            return
        for i, (a, b) in enumerate(zip(old, new, strict=False)):
            _diff(a, b, f"{path}[{i}]", out)
        if len(old) != len(new):
            out.append(f"~ {path}: {len(old)} -> {len(new)} items")
        return
    if old != new:
        if isinstance(old, dict | list) or isinstance(new, dict | list):
            out.append(f"~ {path}")
        else:
            out.append(f"~ {path}: {_short(old)} -> {_short(new)}")


def _diff_keyed(old: dict[str, Any], new: dict[str, Any], path: str, out: list[str]) -> None:
    if [k for k in old if k in new] != [k for k in new if k in old]:
        out.append(f"~ {path}: order")
    for key in list(dict.fromkeys([*old, *new])):
        sub = f"{path}[{key}]"
        if key not in old:
            out.append(f"+ {sub}")
        elif key not in new:
            out.append(f"- {sub}")
        else:
            _diff(old[key], new[key], sub, out)


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Every changed path between two dashboards, ignoring ``id``/``version`` and key order."""
    out: list[str] = []
    _diff(normalise(old), normalise(new), "", out)
    return out


def summarise(changes: list[str], limit: int = MAX_DIFF_LINES) -> tuple[str, ...]:
    if len(changes) <= limit:
        return tuple(changes)
    return (*changes[: limit - 1], f"... and {len(changes) - limit + 1} more")


def plan_dashboard(
    local: Mapping[str, Any], remote: Mapping[str, Any] | None, folder_uid: str
) -> DashboardPlan:
    """``remote`` is Grafana's ``GET /api/dashboards/uid/:uid`` body, or None when absent."""
    uid, title = str(local["uid"]), str(local.get("title", ""))
    if remote is None:
        return DashboardPlan(uid, title, "create")
    current = remote.get("dashboard") or {}
    meta = remote.get("meta") or {}
    changes = diff(current, local)
    remote_folder = meta.get("folderUid") or ""
    if remote_folder != folder_uid:
        changes.insert(0, f"~ folder: {remote_folder or 'General'!r} -> {folder_uid!r}")
    version = current.get("version")
    remote_version = version if isinstance(version, int) else None
    action: Action = "update" if changes else "unchanged"
    return DashboardPlan(uid, title, action, summarise(changes), remote_version)


def plan_prune(
    local_uids: Iterable[str], found: Iterable[Mapping[str, Any]], ownership_tag: str
) -> tuple[PrunePlan, ...]:
    """Dashboards from a folder search that we own (tagged) but no longer render.

    The search already filtered by tag; the tag is checked again here so that an untagged
    dashboard is never removed, whatever the server returned.
    """
    keep = set(local_uids)
    stale = [
        PrunePlan(str(hit["uid"]), str(hit.get("title", "")))
        for hit in found
        if hit.get("type", "dash-db") == "dash-db"
        and ownership_tag in (hit.get("tags") or [])
        and hit.get("uid") not in keep
    ]
    return tuple(sorted(stale, key=lambda p: p.uid))


def count(plans: Iterable[DashboardPlan]) -> dict[str, int]:
    counts = {"create": 0, "update": 0, "unchanged": 0}
    for p in plans:
        counts[p.action] += 1
    return counts


def format_dashboard(p: DashboardPlan) -> list[str]:
    lines = [f"  {p.action:<9} {p.uid}  {p.title!r}"]
    lines += [f"              {c}" for c in p.changes]
    return lines
