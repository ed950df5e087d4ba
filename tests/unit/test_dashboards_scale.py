"""The dashboards at scale: the SLO dashboard's table of every SLO and its repeated detail
row, the same JSON for 4 services or 500, and the deploy/rollback/silence annotations."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dashboards import all_dashboards, slo
from sre import catalog as C
from sre.config import Config, load_config
from sre.render.grafana_json import dashboard_json, dashboard_text

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cfg() -> Config:
    return load_config(ROOT / "sre.yaml")


@pytest.fixture(scope="module")
def boards(cfg: Config) -> dict[str, dict[str, Any]]:
    rendered = [dashboard_json(d) for d in all_dashboards(cfg)]
    return {slug: data for slug, data in zip(C.DASHBOARD_SLUGS, rendered, strict=True)}


def data_panels(data: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in data["panels"]:
        found.append(panel)
        found += panel.get("panels") or []
    return [p for p in found if p["type"] != "row"]


def test_slo_dashboard_lists_every_slo_then_repeats_a_row_per_selected_service(
    cfg: Config,
) -> None:
    data = dashboard_json(slo.build(cfg))
    (table,) = [p for p in data_panels(data) if p["type"] == "table"]
    exprs = [t["expr"] for t in table["targets"]]
    assert all(t["instant"] and t["format"] == "table" for t in table["targets"])
    assert exprs[0] == f"max by (service) (1 - {C.SLO_ERROR_BUDGET})"
    assert C.slo_error_ratio("30d") in exprs[1] and C.slo_error_ratio("30d") in exprs[2]
    long_windows = [a.long_window for a in C.BURN_RATE_ALERTS]
    for expr, window in zip(exprs[3:7], long_windows, strict=True):
        assert f"{C.slo_error_ratio(window)} / on (service) {C.SLO_ERROR_BUDGET}" in expr
    assert 'ALERTS{alertname=~"SLOErrorBudgetBurn.+"' in exprs[7]
    names = [
        prop["value"]
        for o in table["fieldConfig"]["overrides"]
        for prop in o["properties"]
        if prop["id"] == "displayName"
    ]
    assert names == [
        "Objective",
        "Availability (30d)",
        "Error budget left",
        *(f"Burn {w}" for w in long_windows),
        "Alerts",
    ]
    assert table["options"]["sortBy"] == [{"displayName": "Error budget left", "desc": False}]
    links = [
        prop["value"][0]["url"]
        for o in table["fieldConfig"]["overrides"]
        if o["matcher"]["options"] == "service"
        for prop in o["properties"]
    ]
    assert links == [f"/d/{data['uid']}?var-service=${{__value.raw}}&${{__url_time_range}}"]
    # One detail row, repeated by Grafana for each selected service.
    rows = [p for p in data["panels"] if p["type"] == "row"]
    assert [r.get("repeat") for r in rows] == [None, "service"]
    detail = data_panels(data)[1:]
    assert all('service="$service"' in t["expr"] for p in detail for t in p["targets"]), (
        "every detail panel shows the selected service"
    )
    burn = next(p for p in detail if p["title"] == "Burn rate per window")
    assert [t["legendFormat"] for t in burn["targets"]] == list(C.SLO_WINDOWS)
    latency = next(p for p in detail if p["title"] == "Latency p95 vs objective")
    assert C.SLO_LATENCY_OBJECTIVE in latency["targets"][1]["expr"]
    # No service is named anywhere: the dashboard is the same whatever the services.
    text = dashboard_text(slo.build(cfg))
    for svc in cfg.services:
        assert svc.name not in text
    fewer = replace(cfg, services=cfg.services[:1])
    assert dashboard_text(slo.build(fewer)) == text


def test_dashboards_do_not_grow_with_the_services(cfg: Config) -> None:
    many = replace(
        cfg,
        services=tuple(
            replace(cfg.services[i % 4], name=f"svc-{i:04d}", namespace=f"team-{i % 10}")
            for i in range(500)
        ),
    )
    for small, large in zip(all_dashboards(cfg), all_dashboards(many), strict=True):
        assert dashboard_text(small) == dashboard_text(large), small.uid


def test_deploys_rollbacks_and_silences_are_annotated(
    cfg: Config, boards: dict[str, dict[str, Any]]
) -> None:
    ds = {"type": "prometheus", "uid": cfg.prometheus.datasource_uid}
    expected_tags = {
        "overview": ["{kind}"],
        "service-performance": ["{kind}", "$service"],
        "slo": ["{kind}", "$service"],
        "sre-daemon": ["{kind}"],
    }
    for slug, tags in expected_tags.items():
        found = boards[slug]["annotations"]["list"]
        by_tags = [a for a in found if a.get("target", {}).get("type") == "tags"]
        assert [a["target"]["tags"] for a in by_tags] == [
            [t.format(kind=kind) for t in tags] for kind in ("deploy", "rollback", "silence")
        ], slug
        for annotation in by_tags:
            assert annotation["datasource"] == {"type": "grafana", "uid": "-- Grafana --"}
            assert annotation["target"]["matchAny"] is False
        (counter,) = [a for a in found if "expr" in a]
        assert counter["datasource"] == ds
        assert "increase(sre_rollbacks_total{" in counter["expr"]
        assert counter["expr"].endswith(") > 0")
        assert ('service=~"$service"' in counter["expr"]) == (slug != "sre-daemon")
    for slug in ("resources", "agents", "datastores"):
        assert boards[slug]["annotations"]["list"] == []
