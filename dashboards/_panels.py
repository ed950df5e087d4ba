"""House style for every dashboard, in one place (as grafanalib's ``weave.py``).

Dashboard modules only say *what* to show: title, description, unit and PromQL. This layer
decides *how*: modern panel types only, the Prometheus datasource by uid on every panel,
target and variable, a unit and a description on every panel, panel ids in order, and a
left-to-right, top-to-bottom grid layout that cannot overlap. Nothing here mutates a
grafanalib object after construction; ``attr.evolve`` makes the placed copies.

Variables and the dashboard assembly live in ``_dashboard.py`` and are re-exported here.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grafanalib.core import (
    BarGauge,
    GridPos,
    Heatmap,
    Repeat,
    RowPanel,
    Stat,
    Table,
    TableSortByField,
    Target,
    TimeSeries,
)

from dashboards._dashboard import (  # re-exported: the house style is one module to its users
    DEFAULT_TAG,
    GRID_WIDTH,
    SCHEMA_VERSION,
    dashboard,
    datasource,
    layout,
    ownership_tag,
    service_variable,
    variable,
)

GREEN, ORANGE, RED = "green", "orange", "red"
Steps = Sequence[tuple[str, float | None]]  # (colour, lower bound); first bound is None
BASE: Steps = ((GREEN, None),)


def _zero_one(zero: str, one: str) -> tuple[dict[str, Any], ...]:
    """A value mapping that shows a 0/1 gauge as words, red and green."""
    options = {
        "0": {"text": zero, "color": RED, "index": 0},
        "1": {"text": one, "color": GREEN, "index": 1},
    }
    return ({"type": "value", "options": options},)


UP_DOWN = _zero_one("DOWN", "UP")
PASS_FAIL = _zero_one("FAIL", "PASS")


# ----------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""
    instant: bool = False
    format: str = "time_series"  # time_series | table | heatmap


def q(expr: str, legend: str = "") -> Query:
    return Query(expr, legend)


def instant(expr: str, legend: str = "") -> Query:
    """An instant query shaped as a table (one row per series)."""
    return Query(expr, legend, instant=True, format="table")


def _targets(queries: Sequence[Query]) -> list[Any]:
    if not queries:
        raise ValueError("a panel needs at least one query")
    return [
        Target(
            expr=query.expr,
            legendFormat=query.legend,
            refId=ref,
            instant=query.instant,
            format=query.format,
            intervalFactor=1,
        )
        for query, ref in zip(queries, string.ascii_uppercase, strict=False)
    ]


def _steps(steps: Steps) -> list[dict[str, Any]]:
    return [{"color": colour, "value": value} for colour, value in steps]


def _common(title: str, description: str, unit: str, w: int, h: int) -> dict[str, Any]:
    if not description.strip():
        raise ValueError(f"panel {title!r} needs a description")
    if not unit:
        raise ValueError(f"panel {title!r} needs a unit")
    if not 0 < w <= GRID_WIDTH:
        raise ValueError(f"panel {title!r}: width {w} is not within 1..{GRID_WIDTH}")
    return {"title": title, "description": description, "gridPos": GridPos(h=h, w=w, x=0, y=0)}


# ----------------------------------------------------------------------------- panels


def timeseries(
    title: str,
    description: str,
    unit: str,
    queries: Sequence[Query],
    *,
    w: int = 12,
    h: int = 8,
    stack: bool = False,
    bars: bool = False,
    min_: int | None = None,
    max_: int | None = None,
    steps: Steps = BASE,
    threshold_style: str = "off",
) -> Any:
    return TimeSeries(
        **_common(title, description, unit, w, h),
        targets=_targets(queries),
        unit=unit,
        drawStyle="bars" if bars else "line",
        fillOpacity=80 if bars else (30 if stack else 10),
        stacking={"mode": "normal", "group": "A"} if stack else {"mode": "none"},
        valueMin=min_,
        valueMax=max_,
        thresholds=_steps(steps),
        thresholdsStyleMode=threshold_style,
        legendDisplayMode="table",
        legendPlacement="bottom",
        legendCalcs=["lastNotNull", "max"],
        tooltipMode="multi",
        tooltipSort="desc",
        maxDataPoints=None,
    )


def stat(
    title: str,
    description: str,
    unit: str,
    queries: Sequence[Query],
    *,
    w: int = 6,
    h: int = 4,
    steps: Steps = BASE,
    mappings: Sequence[dict[str, Any]] = (),
    decimals: int | None = None,
    graph: bool = True,
    text_mode: str = "auto",
) -> Any:
    return Stat(
        **_common(title, description, unit, w, h),
        targets=_targets(queries),
        format=unit,
        color={"mode": "thresholds"},
        colorMode="background" if mappings else "value",
        graphMode="area" if graph else "none",
        reduceCalc="lastNotNull",
        decimals=decimals,
        mappings=list(mappings),
        noValue="no data",
        textMode=text_mode,
        thresholds=_steps(steps),
        maxDataPoints=None,
    )


@dataclass(frozen=True)
class Column:
    """How one query's value column of a table is named and formatted."""

    name: str
    unit: str
    steps: Steps = ()
    mappings: Sequence[dict[str, Any]] = ()


@dataclass(frozen=True)
class Link:
    """A data link on a table field: ``url`` may use ``${__value.raw}`` (the cell's value)."""

    field: str
    title: str
    url: str


def table(
    title: str,
    description: str,
    unit: str,
    queries: Sequence[Query],
    *,
    columns: Sequence[Column] = (),
    hide: Sequence[str] = ("Time",),
    links: Sequence[Link] = (),
    sort_by: str | None = None,
    w: int = 12,
    h: int = 8,
) -> Any:
    """Instant queries merged into one table; ``columns`` name and format each query's value.

    ``links`` make a field's cells links (e.g. to drill into one service); ``sort_by``
    names the column (as displayed) the table starts sorted by, ascending.
    """
    if columns and len(columns) != len(queries):
        raise ValueError(f"table {title!r}: {len(columns)} columns for {len(queries)} queries")
    overrides = []
    for i, column in enumerate(columns):
        field = "Value" if len(queries) == 1 else f"Value #{string.ascii_uppercase[i]}"
        props: list[dict[str, Any]] = [
            {"id": "displayName", "value": column.name},
            {"id": "unit", "value": column.unit},
        ]
        if column.steps:
            props += [
                {"id": "thresholds", "value": {"mode": "absolute", "steps": _steps(column.steps)}},
                {"id": "custom.displayMode", "value": "color-background"},
            ]
        if column.mappings:
            props.append({"id": "mappings", "value": list(column.mappings)})
        overrides.append({"matcher": {"id": "byName", "options": field}, "properties": props})
    for link in links:
        overrides.append(
            {
                "matcher": {"id": "byName", "options": link.field},
                "properties": [{"id": "links", "value": [{"title": link.title, "url": link.url}]}],
            }
        )
    transformations: list[dict[str, Any]] = [{"id": "merge", "options": {}}]
    transformations.append(
        {"id": "organize", "options": {"excludeByName": dict.fromkeys(hide, True)}}
    )
    return Table(
        **_common(title, description, unit, w, h),
        targets=_targets(queries),
        unit=unit,
        overrides=overrides,
        filterable=True,
        sortBy=[TableSortByField(displayName=sort_by)] if sort_by else [],
        transformations=transformations,
        thresholds=_steps(BASE),
        maxDataPoints=None,
    )


def bargauge(
    title: str,
    description: str,
    unit: str,
    queries: Sequence[Query],
    *,
    w: int = 12,
    h: int = 8,
    min_: float = 0,
    max_: float | None = None,
    steps: Steps = BASE,
) -> Any:
    # grafanalib writes the pre-7.0 ``options.fieldOptions``; the modern fieldConfig and
    # reduceOptions go in through extraJson, with the same values so a migration agrees.
    return BarGauge(
        **_common(title, description, unit, w, h),
        targets=_targets(queries),
        format=unit,
        min=min_,
        max=max_,
        calc="lastNotNull",
        displayMode="gradient",
        thresholds=_steps(steps),
        maxDataPoints=None,
        extraJson={
            "fieldConfig": {
                "defaults": {
                    "unit": unit,
                    "min": min_,
                    "max": max_,
                    "color": {"mode": "thresholds"},
                    "thresholds": {"mode": "absolute", "steps": _steps(steps)},
                },
                "overrides": [],
            },
            "options": {
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "showUnfilled": True,
            },
        },
    )


def heatmap(
    title: str,
    description: str,
    unit: str,
    y_unit: str,
    query: Query,
    *,
    w: int = 12,
    h: int = 8,
) -> Any:
    """A heatmap of pre-bucketed histogram series (``le``): ``unit`` is the cell value."""
    if query.format != "heatmap":
        query = Query(query.expr, query.legend or "{{le}}", format="heatmap")
    return Heatmap(
        **_common(title, description, unit, w, h),
        targets=_targets([query]),
        dataFormat="tsbuckets",
        maxDataPoints=None,
        extraJson={
            "fieldConfig": {
                "defaults": {"unit": unit, "custom": {"scaleDistribution": {"type": "linear"}}},
                "overrides": [],
            },
            "options": {
                "calculate": False,
                "cellGap": 1,
                "color": {"mode": "scheme", "scheme": "Oranges", "scale": "exponential"},
                "yAxis": {"axisPlacement": "left", "unit": y_unit},
                "rowsFrame": {"layout": "auto"},
                "legend": {"show": True},
                "tooltip": {"show": True, "yHistogram": True},
                "filterValues": {"le": 1e-9},
            },
        },
    )


def row(title: str, *, repeat: str | None = None) -> Any:
    """A row header; ``repeat`` names a variable: Grafana draws the row (and the panels
    under it) once per selected value, so one row in the JSON serves every service."""
    return RowPanel(
        title=title,
        gridPos=GridPos(h=1, w=GRID_WIDTH, x=0, y=0),
        repeat=Repeat(variable=repeat) if repeat else Repeat(),
    )


__all__ = [
    "BASE",
    "DEFAULT_TAG",
    "GRID_WIDTH",
    "PASS_FAIL",
    "SCHEMA_VERSION",
    "UP_DOWN",
    "Column",
    "Link",
    "Query",
    "bargauge",
    "dashboard",
    "datasource",
    "heatmap",
    "instant",
    "layout",
    "ownership_tag",
    "q",
    "row",
    "service_variable",
    "stat",
    "table",
    "timeseries",
    "variable",
]
