"""House style, second half: template variables and the dashboard itself (layout, datasource
on every panel, ownership tag, links, annotations). ``dashboards._panels`` re-exports all of
it, so dashboard modules keep writing ``P.variable(...)`` and ``P.dashboard(...)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attr
from grafanalib.core import (
    HIDE_VARIABLE,
    REFRESH_ON_TIME_RANGE_CHANGE,
    SHOW,
    Annotations,
    Dashboard,
    DashboardLink,
    GridPos,
    Panel,
    RowPanel,
    Template,
    Templating,
    Time,
)

from sre import catalog
from sre.config import Config

SCHEMA_VERSION = 39  # Grafana 10.4; grafanalib would say 12
GRID_WIDTH = 24
DEFAULT_TAG = "managed-by-sre"


# ----------------------------------------------------------------------------- variables


def variable(
    name: str,
    label: str,
    query: str,
    *,
    multi: bool = True,
    include_all: bool | None = None,
    all_value: str | None = None,
    hidden: bool = False,
) -> Any:
    """A query variable over a label's values; "All" selects everything (use ``=~``).

    ``all_value`` is what "All" stands for in queries (e.g. ``.+``) instead of a regex that
    spells every value, which for 500 services would be kilobytes in every query.
    """
    include_all = multi if include_all is None else include_all
    return Template(
        name=name,
        label=label,
        query=query,
        type="query",
        multi=multi,
        includeAll=include_all,
        allValue=all_value,
        default="$__all" if include_all else None,
        refresh=REFRESH_ON_TIME_RANGE_CHANGE,
        hide=HIDE_VARIABLE if hidden else SHOW,
    )


def service_variable(*, multi: bool = True, source: str = catalog.REQUEST_RATE) -> Any:
    """``$service``: every service (``All`` by default), or with ``multi=False`` one of them
    (the first by default), as a per-service view wants."""
    return variable(
        "service",
        "Service",
        f"label_values({source}, service)",
        multi=multi,
        all_value=".+" if multi else None,
    )


# ----------------------------------------------------------------------------- assembly


def datasource(cfg: Config) -> dict[str, str]:
    return {"type": "prometheus", "uid": cfg.needs_prometheus().datasource_uid}


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
    annotations: Sequence[dict[str, Any]] = (),
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
        annotations=Annotations(list=list(annotations)),
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
