"""The seven dashboards: house rules on the rendered JSON, config-driven content, and PromQL
that promtool parses (with Grafana variables substituted)."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards import _panels as P
from dashboards import all_dashboards
from sre import catalog as C
from sre.config import Config, Selectors, load_config
from sre.render.grafana_json import dashboard_json, dashboard_text
from tests.helpers import find_binary

pytestmark = pytest.mark.usefixtures("prometheus_versions")

ROOT = Path(__file__).resolve().parents[2]
MODERN = {"row", "timeseries", "stat", "table", "bargauge", "heatmap"}
# What Grafana's variables stand for when the PromQL is parsed offline.
BUILTINS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
USER_VARIABLE = re.compile(r"\$\{?\w+\}?")
LABEL_VALUES = re.compile(r"^label_values\((.*),\s*\w+\)$")


@pytest.fixture(scope="module")
def cfg() -> Config:
    return load_config(ROOT / "sre.yaml")


@pytest.fixture(scope="module")
def boards(cfg: Config) -> dict[str, dict[str, Any]]:
    rendered = [dashboard_json(d) for d in all_dashboards(cfg)]
    return {slug: data for slug, data in zip(C.DASHBOARD_SLUGS, rendered, strict=True)}


def panels(data: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in data["panels"]:
        found.append(panel)
        found += panel.get("panels") or []
    return found


def data_panels(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in panels(data) if p["type"] != "row"]


def substitute(expr: str) -> str:
    for name, value in BUILTINS.items():
        expr = expr.replace(name, value)
    return USER_VARIABLE.sub("x", expr)


def exprs(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL) for every target and query variable, variables substituted."""
    found = [
        (f"{data['uid']} panel {p['id']} {p['title']!r}", substitute(t["expr"]))
        for p in data_panels(data)
        for t in p["targets"]
    ]
    for var in data["templating"]["list"]:
        match = LABEL_VALUES.match(var["query"])
        assert match, f"{data['uid']} ${var['name']}: not a label_values() query"
        found.append((f"{data['uid']} ${var['name']}", substitute(match.group(1))))
    for annotation in data["annotations"]["list"]:
        if "expr" in annotation:
            found.append((f"{data['uid']} {annotation['name']}", substitute(annotation["expr"])))
    return found


def promtool_check(expressions: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    rules = [{"record": f"dashboard:check:e{i}", "expr": e} for i, e in enumerate(expressions)]
    path = tmp_path / "dashboard-exprs.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    return subprocess.run(
        [find_binary("promtool"), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# ----------------------------------------------------------------------------- identity


def test_seven_dashboards_with_expected_uids_in_order(
    cfg: Config, boards: dict[str, dict[str, Any]]
) -> None:
    assert [d["uid"] for d in boards.values()] == [
        f"{cfg.system}-{slug}" for slug in C.DASHBOARD_SLUGS
    ]
    assert len({d["title"] for d in boards.values()}) == len(C.DASHBOARD_SLUGS)


def test_tags_carry_the_ownership_tag(cfg: Config) -> None:
    assert cfg.grafana is not None
    for data in map(dashboard_json, all_dashboards(cfg)):
        assert cfg.grafana.ownership_tag in data["tags"]
    custom = replace(cfg, grafana=replace(cfg.grafana, ownership_tag="owned-here"))
    for data in map(dashboard_json, all_dashboards(custom)):
        assert "owned-here" in data["tags"]
        assert "managed-by-sre" not in data["tags"]
    for data in map(dashboard_json, all_dashboards(replace(cfg, grafana=None))):
        assert "managed-by-sre" in data["tags"]


# ----------------------------------------------------------------------------- house rules


@pytest.mark.parametrize("slug", C.DASHBOARD_SLUGS)
def test_house_rules(slug: str, cfg: Config, boards: dict[str, dict[str, Any]]) -> None:
    data = boards[slug]
    assert data["schemaVersion"] >= 39
    assert not data["rows"]
    ds = {"type": "prometheus", "uid": cfg.prometheus.datasource_uid}
    for panel in data_panels(data):
        name = f"{slug} {panel['title']!r}"
        assert panel["type"] in MODERN, f"{name}: {panel['type']}"
        assert panel["fieldConfig"]["defaults"].get("unit"), f"{name}: no unit"
        assert panel["description"].strip(), f"{name}: no description"
        assert panel["datasource"] == ds, name
        assert panel["targets"], f"{name}: no queries"
        for target in panel["targets"]:
            assert target["datasource"] == ds, name
            assert target["expr"].strip(), name
    for var in data["templating"]["list"]:
        assert var["datasource"] == ds, f"{slug} ${var['name']}"


@pytest.mark.parametrize("slug", C.DASHBOARD_SLUGS)
def test_ids_unique_and_grid_without_overlap(slug: str, boards: dict[str, dict[str, Any]]) -> None:
    placed = panels(boards[slug])
    ids = [p["id"] for p in placed]
    assert ids == list(range(1, len(placed) + 1))
    rects = [
        (p["gridPos"]["x"], p["gridPos"]["y"], p["gridPos"]["w"], p["gridPos"]["h"]) for p in placed
    ]
    for x, _, w, h in rects:
        assert x >= 0 and w > 0 and h > 0 and x + w <= 24
    for i, (ax, ay, aw, ah) in enumerate(rects):
        for bx, by, bw, bh in rects[i + 1 :]:
            overlap = ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah
            assert not overlap, f"{slug}: {(ax, ay, aw, ah)} overlaps {(bx, by, bw, bh)}"


def test_layout_wraps_rows_and_lines() -> None:
    def box(w: int, h: int) -> Any:
        return P.stat("t", "d", "none", [P.q("up")], w=w, h=h)

    placed = P.layout([P.row("a"), box(16, 4), box(16, 3), box(8, 2), P.row("b"), box(4, 1)])
    spots = [(p.id, p.gridPos.x, p.gridPos.y) for p in placed]
    assert spots == [(1, 0, 0), (2, 0, 1), (3, 0, 5), (4, 16, 5), (5, 0, 8), (6, 0, 9)]


def test_house_layer_refuses_a_panel_without_description_or_unit() -> None:
    with pytest.raises(ValueError, match="needs a description"):
        P.timeseries("t", " ", "s", [P.q("up")])
    with pytest.raises(ValueError, match="needs a unit"):
        P.stat("t", "d", "", [P.q("up")])
    with pytest.raises(ValueError, match="at least one query"):
        P.table("t", "d", "none", [])


def test_datasource_uid_comes_from_config(cfg: Config) -> None:
    other = replace(cfg, prometheus=replace(cfg.prometheus, datasource_uid="thanos-eu"))
    for data in map(dashboard_json, all_dashboards(other)):
        uids = {p["datasource"]["uid"] for p in data_panels(data)}
        uids |= {t["datasource"]["uid"] for p in data_panels(data) for t in p["targets"]}
        uids |= {v["datasource"]["uid"] for v in data["templating"]["list"]}
        assert uids == {"thanos-eu"}, data["uid"]


def test_rendering_is_byte_identical(cfg: Config) -> None:
    first = [dashboard_text(d) for d in all_dashboards(cfg)]
    second = [dashboard_text(d) for d in all_dashboards(load_config(ROOT / "sre.yaml"))]
    assert first == second
    for text in first:
        assert text.endswith("}\n")
        assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"


# ----------------------------------------------------------------------------- content


def test_service_variables(boards: dict[str, dict[str, Any]]) -> None:
    def service(slug: str) -> dict[str, Any]:
        (var,) = [v for v in boards[slug]["templating"]["list"] if v["name"] == "service"]
        return var

    # The overview: every service by default; "All" is ".+", not a regex of 500 names.
    overview = service("overview")
    assert overview["query"] == f"label_values({C.REQUEST_RATE}, service)"
    assert overview["includeAll"] and overview["multi"] and overview["allValue"] == ".+"
    # Service performance: one service at a time (the first by default).
    performance = service("service-performance")
    assert not performance["includeAll"] and not performance["multi"]
    # SLOs: the services with an SLO; several may be picked (a row each), never "All".
    slos = service("slo")
    assert slos["query"] == f"label_values({C.SLO_ERROR_BUDGET}, service)"
    assert slos["multi"] and not slos["includeAll"]
    for slug in ("overview", "service-performance"):
        assert any('service=~"$service"' in e for _, e in _raw_exprs(boards[slug]))
    (namespace,) = [
        v for v in boards["service-performance"]["templating"]["list"] if v["name"] == "namespace"
    ]
    assert namespace["query"] == f'label_values({C.SERVICE_INFO}{{service=~"$service"}}, namespace)'
    assert namespace["hide"] == 2


def _raw_exprs(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p["title"], t["expr"]) for p in data_panels(data) for t in p["targets"]]


def test_overview_shows_firing_alerts_queue_and_service_summary(
    boards: dict[str, dict[str, Any]],
) -> None:
    by_title = {p["title"]: p for p in data_panels(boards["overview"])}
    alerts = by_title["Firing alerts"]
    assert alerts["type"] == "table"
    assert 'ALERTS{alertstate="firing"}' in alerts["targets"][0]["expr"]
    summary = " ".join(t["expr"] for t in by_title["Service summary"]["targets"])
    for name in (
        "sre_probe_success",
        "up{",
        C.REQUEST_RATE,
        C.ERROR_RATIO,
        C.LATENCY_QUANTILES["p95"],
    ):
        assert name in summary
    assert C.QUEUE_LENGTH in by_title["Queue length"]["targets"][0]["expr"]


def test_agents_heatmap_reads_the_duration_histogram(boards: dict[str, dict[str, Any]]) -> None:
    (heatmap,) = [p for p in data_panels(boards["agents"]) if p["type"] == "heatmap"]
    assert f"{C.AGENT_TASK_DURATION}_bucket" in heatmap["targets"][0]["expr"]
    assert heatmap["targets"][0]["format"] == "heatmap"
    assert heatmap["options"]["yAxis"]["unit"] == "s"


def test_daemon_dashboard_uses_only_catalogued_sre_metrics(
    boards: dict[str, dict[str, Any]],
) -> None:
    text = " ".join(e for _, e in _raw_exprs(boards["sre-daemon"]))
    used = {re.sub(r"_bucket$", "", m) for m in re.findall(r"\bsre_\w+", text)}
    assert used <= set(C.DAEMON_METRICS)
    # The daemon's own ``job`` label is stored as exported_job (the scrape sets ``job``).
    assert "by (exported_job" in text
    assert "by (job" not in text
    needed = {
        "sre_probe_success",
        "sre_probe_duration_seconds",
        "sre_aws_cost_daily_usd",
        "sre_aws_cost_budget_usd",
        "sre_backup_age_seconds",
        "sre_backup_verification_success",
        "sre_rollbacks_total",
        "sre_slack_deliveries_total",
        "sre_job_runs_total",
    }
    assert needed <= used


def test_recording_rules_used_are_the_catalogued_ones(boards: dict[str, dict[str, Any]]) -> None:
    known = {
        C.REQUEST_RATE,
        C.ERROR_RATIO,
        C.CODE_RATE,
        C.SLO_ERROR_BUDGET,
        C.SLO_LATENCY_OBJECTIVE,
        C.SERVICE_INFO,
        C.ERROR_RATIO_THRESHOLD,
        C.AGENT_PROCESSED_RATE,
        C.AGENT_FAILURE_RATIO,
        C.AGENT_P95,
        *C.LATENCY_QUANTILES.values(),
        *(C.slo_error_ratio(w) for w in C.SLO_WINDOWS),
    }
    for data in boards.values():
        for _, expr in exprs(data):
            for name in re.findall(r"[a-z_]+:[a-z0-9_:]+", expr):
                assert name in known, f"{data['uid']}: {name}"


def test_selectors_come_from_config(cfg: Config) -> None:
    node = replace(cfg, selectors=replace(cfg.selectors, node='job="my-node-exporter"'))
    text = dashboard_text(next(d for d in all_dashboards(node) if d.uid.endswith("-resources")))
    assert 'job=\\"my-node-exporter\\"' in text
    assert 'job=\\"node-exporter\\"' not in text
    # With every selector replaced, no default selector is left anywhere in any dashboard.
    markers = {f.name: f'sel_{f.name}="1"' for f in fields(Selectors)}
    marked = replace(cfg, selectors=Selectors(**markers))
    all_text = "".join(dashboard_text(d) for d in all_dashboards(marked))
    for name, marker in markers.items():
        assert marker.replace('"', '\\"') in all_text, name
    for f in fields(Selectors):
        for default in (getattr(cfg.selectors, f.name), f.default):
            for matcher in filter(None, (m.strip() for m in str(default).split(","))):
                assert matcher.replace('"', '\\"') not in all_text, f"{f.name}: {matcher}"


# ----------------------------------------------------------------------------- promtool


def test_every_expression_parses_in_promtool(
    boards: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    found = [e for data in boards.values() for e in exprs(data)]
    assert len(found) > 100
    for _where, expr in found:
        assert "$" not in expr
    result = promtool_check([e for _, e in found], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(found)} rules found" in result.stdout


def test_promtool_check_catches_a_broken_expression(tmp_path: Path) -> None:
    result = promtool_check(["sum(rate(up[5m])", substitute('up{a=~"$x"}[$__range]')], tmp_path)
    assert result.returncode != 0
    assert "parse" in (result.stdout + result.stderr).lower()
