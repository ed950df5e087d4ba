"""Dashboard checks on the Grafana JSON model (what Grafana itself would load)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sre.render.dashboard_queries import (
    annotation_queries,
    dashboard_name,
    iter_panels,
    panel_name,
)
from sre.render.problems import Problem

MIN_SCHEMA_VERSION = 39
GRID_COLUMNS = 24
UID_MAX_LENGTH = 40  # Grafana rejects longer uids
# Panels that draw no data series, so a unit means nothing.
NO_UNIT = frozenset({"row", "text", "alertlist", "dashlist", "news", "annolist", "logs"})
# Panels that run no queries of their own, so they need no datasource.
NO_DATASOURCE = frozenset({"row", "text", "alertlist", "dashlist", "news", "annolist"})
DEPRECATED = {
    "graph": "timeseries",
    "singlestat": "stat",
    "table-old": "table",
    "grafana-piechart-panel": "piechart",
}


def check(
    dashboards: Sequence[Mapping[str, Any]], *, datasource_uid: str | None = None
) -> list[Problem]:
    problems = _check_identity(dashboards)
    for dashboard in dashboards:
        problems += _check_dashboard(dashboard)
        problems += _check_layout(dashboard)
        for panel, _ in iter_panels(dashboard):
            problems += _check_panel(dashboard, panel, datasource_uid)
        problems += _check_variables(dashboard, datasource_uid)
        problems += _check_annotations(dashboard, datasource_uid)
    return problems


def _check_identity(dashboards: Sequence[Mapping[str, Any]]) -> list[Problem]:
    """uids (and titles, which Grafana wants unique in a folder) must not collide."""
    problems: list[Problem] = []
    for key in ("uid", "title"):
        seen: dict[str, list[int]] = defaultdict(list)
        for i, dashboard in enumerate(dashboards):
            value = dashboard.get(key)
            if not isinstance(value, str) or not value:
                where = f"dashboard #{i + 1} ({dashboard.get('title') or 'untitled'})"
                problems.append(Problem("dashboards", where, f"has no {key}"))
                continue
            seen[value].append(i)
        for value, indexes in sorted(seen.items()):
            if len(indexes) > 1:
                titles = ", ".join(repr(dashboards[i].get("title")) for i in indexes)
                problems.append(
                    Problem("dashboards", f"{key} {value}", f"used by {len(indexes)}: {titles}")
                )
    for dashboard in dashboards:
        uid = dashboard.get("uid")
        if isinstance(uid, str) and len(uid) > UID_MAX_LENGTH:
            problems.append(
                Problem(
                    "dashboards",
                    dashboard_name(dashboard),
                    f"uid is {len(uid)} characters; Grafana allows {UID_MAX_LENGTH}",
                )
            )
    return problems


def _check_dashboard(dashboard: Mapping[str, Any]) -> list[Problem]:
    where = dashboard_name(dashboard)
    problems = []
    version = dashboard.get("schemaVersion")
    if not isinstance(version, int) or version < MIN_SCHEMA_VERSION:
        problems.append(
            Problem(
                "dashboards", where, f"schemaVersion is {version}, needs >= {MIN_SCHEMA_VERSION}"
            )
        )
    if dashboard.get("rows"):
        problems.append(
            Problem("layout", where, "uses legacy 'rows'; use panels with gridPos (RowPanel)")
        )
    return problems


def _rect(panel: Mapping[str, Any]) -> tuple[int, int, int, int] | None:
    pos = panel.get("gridPos")
    if not isinstance(pos, Mapping):
        return None
    try:
        return int(pos["x"]), int(pos["y"]), int(pos["w"]), int(pos["h"])
    except (KeyError, TypeError, ValueError):
        return None


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


def _check_layout(dashboard: Mapping[str, Any]) -> list[Problem]:
    """Unique panel ids; no two gridPos rectangles overlap on the same grid.

    The panels of a collapsed row sit on their own grid (Grafana shifts everything below
    when the row opens), so they are compared with each other, not with the page.
    """
    problems: list[Problem] = []
    ids: dict[object, list[Mapping[str, Any]]] = defaultdict(list)
    grids: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    row = 0  # grid 0 is the page; grid n the inside of the n-th top-level panel (a row)
    for panel, nested in iter_panels(dashboard):
        ids[panel.get("id")].append(panel)
        if not nested:
            row += 1
            grids[0].append(panel)
        else:
            grids[row].append(panel)
    for panel_id, same in ids.items():
        if panel_id is None or not isinstance(panel_id, int):
            for panel in same:
                problems.append(Problem("layout", panel_name(dashboard, panel), "has no id"))
        elif len(same) > 1:
            titles = ", ".join(repr(p.get("title")) for p in same)
            problems.append(
                Problem(
                    "layout",
                    f"{dashboard_name(dashboard)} panel id {panel_id}",
                    f"shared by {len(same)} panels: {titles}",
                )
            )
    for panels in grids.values():
        rects: list[tuple[Mapping[str, Any], tuple[int, int, int, int]]] = []
        for panel in panels:
            rect = _rect(panel)
            if rect is None:
                problems.append(
                    Problem("layout", panel_name(dashboard, panel), "has no gridPos {x, y, w, h}")
                )
                continue
            x, _, w, h = rect
            if x < 0 or w <= 0 or h <= 0 or x + w > GRID_COLUMNS:
                problems.append(
                    Problem(
                        "layout",
                        panel_name(dashboard, panel),
                        f"gridPos {_show(rect)} does not fit the {GRID_COLUMNS}-column grid",
                    )
                )
            for other, other_rect in rects:
                if _overlap(rect, other_rect):
                    problems.append(
                        Problem(
                            "layout",
                            panel_name(dashboard, panel),
                            f"gridPos {_show(rect)} overlaps panel {other.get('id')} "
                            f"{other.get('title')!r} at {_show(other_rect)}",
                        )
                    )
            rects.append((panel, rect))
    return problems


def _show(rect: tuple[int, int, int, int]) -> str:
    x, y, w, h = rect
    return f"x={x} y={y} w={w} h={h}"


def _unit(panel: Mapping[str, Any]) -> object:
    defaults = (panel.get("fieldConfig") or {}).get("defaults") or {}
    if defaults.get("unit"):
        return defaults["unit"]
    for override in (panel.get("fieldConfig") or {}).get("overrides") or []:
        for prop in override.get("properties") or []:
            if prop.get("id") == "unit" and prop.get("value"):
                return prop["value"]
    # The pre-v10 heatmap keeps its unit on the y axis.
    options = panel.get("options")
    y_axis = options.get("yAxis") if isinstance(options, Mapping) else None
    if isinstance(y_axis, Mapping) and y_axis.get("unit"):
        return y_axis["unit"]
    legacy = panel.get("yAxis")
    return legacy.get("format") if isinstance(legacy, Mapping) else None


def _by_uid(datasource: object) -> bool:
    return isinstance(datasource, Mapping) and bool(datasource.get("uid"))


def _wrong_uid(datasource: object, expected: str | None) -> str | None:
    """The uid if it is neither ``expected`` nor a ``$variable``, else None."""
    if expected is None or not isinstance(datasource, Mapping):
        return None
    uid = str(datasource.get("uid") or "")
    return None if not uid or uid == expected or uid.startswith("$") else uid


def _check_panel(
    dashboard: Mapping[str, Any], panel: Mapping[str, Any], datasource_uid: str | None
) -> list[Problem]:
    where = panel_name(dashboard, panel)
    kind = panel.get("type")
    problems = []
    if kind in DEPRECATED:
        problems.append(
            Problem("panels", where, f"is a {kind} panel; use {DEPRECATED[kind]} instead")
        )
    if kind != "row" and not (panel.get("description") or "").strip():
        problems.append(Problem("panels", where, "has no description"))
    if kind not in NO_UNIT and not _unit(panel):
        problems.append(
            Problem("panels", where, "has no unit (fieldConfig.defaults.unit, e.g. 'reqps')")
        )
    if kind in NO_DATASOURCE:
        return problems
    targets = [t for t in panel.get("targets") or [] if isinstance(t, Mapping)]
    panel_ds = panel.get("datasource")
    if not targets:
        problems.append(Problem("panels", where, "has no queries (targets)"))
    elif not _by_uid(panel_ds) and not all(_by_uid(t.get("datasource")) for t in targets):
        problems.append(
            Problem(
                "panels",
                where,
                f'datasource {panel_ds!r} is not by uid; use {{"type": "prometheus", "uid": ...}}',
            )
        )
    for source in [panel_ds, *(t.get("datasource") for t in targets)]:
        wrong = _wrong_uid(source, datasource_uid)
        if wrong is not None:
            problems.append(
                Problem(
                    "panels",
                    where,
                    f"datasource uid {wrong!r} is not prometheus.datasource_uid "
                    f"({datasource_uid!r})",
                )
            )
            break
    for target in targets:
        if not str(target.get("expr") or "").strip():
            problems.append(
                Problem("panels", f"{where} target {target.get('refId', '?')}", "has no expr")
            )
    return problems


def _check_variables(dashboard: Mapping[str, Any], datasource_uid: str | None) -> list[Problem]:
    problems = []
    templating = dashboard.get("templating") or {}
    for var in templating.get("list") or []:
        if var.get("type", "query") != "query":
            continue
        where = f"{dashboard_name(dashboard)} variable ${var.get('name', '?')}"
        problems += _source_problems(where, var.get("datasource"), datasource_uid)
    return problems


def _source_problems(where: str, source: Any, datasource_uid: str | None) -> list[Problem]:
    """A variable's or an annotation's Prometheus datasource: by uid, and the configured one."""
    if not _by_uid(source):
        return [Problem("panels", where, f"datasource {source!r} is not by uid")]
    if (wrong := _wrong_uid(source, datasource_uid)) is not None:
        why = f"datasource uid {wrong!r} is not prometheus.datasource_uid ({datasource_uid!r})"
        return [Problem("panels", where, why)]
    return []


# Grafana's own annotation store, as its built-in datasource names it (old and new spelling).
GRAFANA_BUILT_IN = (
    {"type": "grafana", "uid": "-- Grafana --"},
    {"type": "datasource", "uid": "grafana"},
)


def _check_annotations(dashboard: Mapping[str, Any], datasource_uid: str | None) -> list[Problem]:
    """A tag query reads Grafana's own store and names its tags; a query reads our
    Prometheus, by uid."""
    problems = []
    for annotation in annotation_queries(dashboard):
        where = f"{dashboard_name(dashboard)} annotation {annotation.get('name', '?')!r}"
        source = annotation.get("datasource")
        target = annotation.get("target")
        if isinstance(target, Mapping) and target.get("type") == "tags":
            if source not in GRAFANA_BUILT_IN:
                problems.append(
                    Problem("panels", where, "a tag query reads Grafana's built-in datasource")
                )
            tags = target.get("tags")
            if not isinstance(tags, list) or not tags or not all(isinstance(t, str) for t in tags):
                problems.append(Problem("panels", where, "a tag query needs its tags"))
        elif "expr" in annotation:
            problems += _source_problems(where, source, datasource_uid)
    return problems
