"""House style for every dashboard, in one place (as grafanalib's ``weave.py``).

Dashboard modules only say *what* to show: title, description, unit and PromQL. This layer
decides *how*: modern panel types only, the Prometheus datasource by uid on every panel,
target and variable, a unit and a description on every panel, panel ids in order, and a
left-to-right, top-to-bottom grid layout that cannot overlap. Nothing here mutates a
grafanalib object after construction; ``attr.evolve`` makes the placed copies.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import attr
from grafanalib.core import (
    REFRESH_ON_TIME_RANGE_CHANGE,
    BarGauge,
    Dashboard,
    DashboardLink,
    GridPos,
    Heatmap,
    Panel,
    RowPanel,
    Stat,
    Table,
    Target,
    Template,
    Templating,
    Time,
    TimeSeries,
)

from sre import catalog
from sre.config import Config

SCHEMA_VERSION = 39  # Grafana 10.4; grafanalib would say 12
GRID_WIDTH = 24
DEFAULT_TAG = "managed-by-sre"

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


def table(
    title: str,
    description: str,
    unit: str,
    queries: Sequence[Query],
    *,
    columns: Sequence[Column] = (),
    hide: Sequence[str] = ("Time",),
    w: int = 12,
    h: int = 8,
) -> Any:
    """Instant queries merged into one table; ``columns`` name and format each query's value."""
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


def row(title: str) -> Any:
    return RowPanel(title=title, gridPos=GridPos(h=1, w=GRID_WIDTH, x=0, y=0))


# ----------------------------------------------------------------------------- variables


def variable(name: str, label: str, query: str, *, multi: bool = True) -> Any:
    """A query variable over a label's values; "All" selects everything (use ``=~``)."""
    return Template(
        name=name,
        label=label,
        query=query,
        type="query",
        multi=multi,
        includeAll=multi,
        default="$__all" if multi else None,
        refresh=REFRESH_ON_TIME_RANGE_CHANGE,
    )


def service_variable() -> Any:
    return variable("service", "Service", f"label_values({catalog.REQUEST_RATE}, service)")


# ----------------------------------------------------------------------------- assembly


def datasource(cfg: Config) -> dict[str, str]:
    return {"type": "prometheus", "uid": cfg.prometheus.datasource_uid}


def ownership_tag(cfg: Config) -> str:
    return cfg.grafana.ownership_tag if cfg.grafana else DEFAULT_TAG


def layout(panels: Sequence[Any]) -> list[Any]:
    """Place panels left to right, wrapping at the grid width; a row starts a new line.

    Each line is as tall as its tallest panel, so no two panels can overlap. Ids are 1..n in
    the order given, so they are stable as long as the module lists panels in the same order.
    """
    placed, x, y, line_h = [], 0, 0, 0
    for panel_id, panel in enumerate(panels, start=1):
        w, h = panel.gridPos.w, panel.gridPos.h
        if isinstance(panel, RowPanel) or x + w > GRID_WIDTH:
            y, x, line_h = y + line_h, 0, 0
        placed.append(attr.evolve(panel, id=panel_id, gridPos=GridPos(h=h, w=w, x=x, y=y)))
        x, line_h = x + w, max(line_h, h)
        if isinstance(panel, RowPanel):
            x = GRID_WIDTH  # nothing shares a row header's line
    return placed


def _with_datasource(panel: Any, ds: dict[str, str]) -> Any:
    if isinstance(panel, RowPanel):
        return panel
    targets = [attr.evolve(t, datasource=ds) for t in panel.targets]
    return attr.evolve(panel, dataSource=ds, targets=targets)


def dashboard(
    cfg: Config,
    slug: str,
    title: str,
    description: str,
    panels: Sequence[Panel],
    *,
    variables: Sequence[Any] = (),
    time_from: str = "now-6h",
) -> Any:
    ds = datasource(cfg)
    return Dashboard(
        title=f"{cfg.system}: {title}",
        description=description,
        uid=catalog.dashboard_uid(cfg.system, slug),
        tags=[ownership_tag(cfg), cfg.system],
        panels=[_with_datasource(p, ds) for p in layout(panels)],
        templating=Templating([attr.evolve(v, dataSource=ds) for v in variables]),
        links=[
            DashboardLink(
                title=cfg.system,
                tags=[ownership_tag(cfg), cfg.system],
                asDropdown=True,
                includeVars=False,
                keepTime=True,
            )
        ],
        time=Time(time_from, "now"),
        refresh="1m",
        graphTooltip=1,
        timezone="utc",
        schemaVersion=SCHEMA_VERSION,
        editable=False,
    )
