"""Broken dashboards: each mistake gets its own, specific message naming dashboard and panel."""

from __future__ import annotations

from tests.unit.test_render_fixtures import broken, dashboard, lint_all, panel


def only(problems: list[str]) -> str:
    assert len(problems) == 1, problems
    return problems[0]


def test_overlapping_panels_are_named_with_both_positions() -> None:
    board = dashboard(panels=[panel(1, 0, 0, w=12, h=8), panel(2, 6, 4, w=12, h=8)])
    assert only(lint_all([board])) == (
        '[layout] dashboard demo-overview panel 2 "Panel 2": gridPos x=6 y=4 w=12 h=8 '
        "overlaps panel 1 'Panel 1' at x=0 y=0 w=12 h=8"
    )


def test_touching_panels_do_not_overlap() -> None:
    board = dashboard(panels=[panel(1, 0, 0), panel(2, 12, 0), panel(3, 0, 8, w=24)])
    assert lint_all([board]) == []


def test_panel_past_the_grid_edge() -> None:
    board = dashboard(panels=[panel(1, 16, 0, w=12)])
    assert "does not fit the 24-column grid" in only(lint_all([board]))


def test_duplicate_panel_id() -> None:
    board = dashboard(panels=[panel(1, 0, 0), panel(1, 12, 0)])
    assert only(lint_all([board])) == (
        "[layout] dashboard demo-overview panel id 1: shared by 2 panels: 'Panel 1', 'Panel 1'"
    )


def test_duplicate_id_inside_a_collapsed_row_is_found() -> None:
    row = {
        "id": 2,
        "type": "row",
        "title": "Row",
        "collapsed": True,
        "gridPos": {"x": 0, "y": 8, "w": 24, "h": 1},
        "panels": [panel(1, 0, 9)],
    }
    problems = lint_all([dashboard(panels=[panel(1, 0, 0), row])])
    assert only(problems).startswith("[layout] dashboard demo-overview panel id 1: shared by 2")


def test_collapsed_row_children_live_on_their_own_grid() -> None:
    # Grafana pushes the page down when the row opens: y=9 here is not an overlap with
    # the panel at y=9 below the row.
    row = {
        "id": 2,
        "type": "row",
        "title": "Row",
        "collapsed": True,
        "gridPos": {"x": 0, "y": 8, "w": 24, "h": 1},
        "panels": [panel(3, 0, 9, w=24), panel(4, 0, 17, w=24)],
    }
    board = dashboard(panels=[panel(1, 0, 0, w=24), row, panel(5, 0, 9, w=24)])
    assert lint_all([board]) == []
    row["panels"] = [panel(3, 0, 9, w=24), panel(4, 0, 12, w=24)]
    assert "overlaps panel 3" in only(lint_all([board]))


def test_missing_unit() -> None:
    board = dashboard(panels=[panel(1, unit=None)])
    assert only(lint_all([board])) == (
        '[panels] dashboard demo-overview panel 1 "Panel 1": has no unit '
        "(fieldConfig.defaults.unit, e.g. 'reqps')"
    )


def test_unit_in_an_override_counts() -> None:
    board = dashboard(panels=[panel(1, kind="table", unit=None)])
    board["panels"][0]["fieldConfig"]["overrides"] = [
        {
            "matcher": {"id": "byName", "options": "Value"},
            "properties": [{"id": "unit", "value": "s"}],
        }
    ]
    assert lint_all([board]) == []


def test_text_panels_need_no_unit_or_datasource_but_a_description() -> None:
    text = {
        "id": 1,
        "type": "text",
        "title": "Read me",
        "gridPos": {"x": 0, "y": 0, "w": 24, "h": 3},
    }
    assert only(lint_all([dashboard(panels=[text])])) == (
        '[panels] dashboard demo-overview panel 1 "Read me": has no description'
    )


def test_missing_description() -> None:
    board = dashboard(panels=[panel(1, description="  ")])
    assert only(lint_all([board])).endswith(": has no description")


def test_graph_and_singlestat_are_refused() -> None:
    board = dashboard(panels=[panel(1, kind="graph"), panel(2, 12, kind="singlestat")])
    problems = lint_all([board])
    name = "[panels] dashboard demo-overview panel"
    assert f'{name} 1 "Panel 1": is a graph panel; use timeseries instead' in problems
    assert f'{name} 2 "Panel 2": is a singlestat panel; use stat instead' in problems
    assert len(problems) == 2


def test_datasource_by_name_is_refused() -> None:
    board = dashboard(panels=[panel(1)])
    board["panels"][0]["datasource"] = "Prometheus"
    for target in board["panels"][0]["targets"]:
        del target["datasource"]
    assert "datasource 'Prometheus' is not by uid" in only(lint_all([board]))


def test_datasource_with_another_uid_is_refused_but_a_variable_is_fine() -> None:
    board = dashboard(panels=[panel(1)])
    board["panels"][0]["datasource"] = {"type": "prometheus", "uid": "thanos"}
    assert "datasource uid 'thanos' is not prometheus.datasource_uid ('prometheus')" in only(
        lint_all([board])
    )
    board["panels"][0]["datasource"] = {"type": "prometheus", "uid": "${datasource}"}
    assert lint_all([board]) == []


def test_variable_without_datasource_uid() -> None:
    board = broken(dashboard())
    board["templating"]["list"][0]["datasource"] = None
    assert only(lint_all([board])) == (
        "[panels] dashboard demo-overview variable $service: datasource None is not by uid"
    )


def test_old_schema_version() -> None:
    board = broken(dashboard())
    board["schemaVersion"] = 12
    assert only(lint_all([board])) == (
        "[dashboards] dashboard demo-overview: schemaVersion is 12, needs >= 39"
    )


def test_uid_collision_names_both_dashboards() -> None:
    first = dashboard("same")
    second = broken(first)
    second["title"] = "Another"
    assert only(lint_all([first, second])) == (
        "[dashboards] uid same: used by 2: 'Demo same', 'Another'"
    )


def test_title_collision_and_long_uid() -> None:
    first = dashboard("a")
    second = dashboard("b" * 41)
    second["title"] = first["title"]
    problems = lint_all([first, second])
    assert "[dashboards] title Demo a: used by 2: 'Demo a', 'Demo a'" in problems
    assert any("uid is 41 characters; Grafana allows 40" in p for p in problems)


def test_every_problem_of_a_dashboard_is_reported_at_once() -> None:
    board = dashboard(panels=[panel(1, unit=None), panel(1, 6, 0, kind="graph", description="")])
    board["schemaVersion"] = 30
    problems = lint_all([board])
    for expected in (
        "has no unit",
        "shared by 2 panels",
        "overlaps panel 1",
        "is a graph panel",
        "has no description",
        "schemaVersion is 30",
    ):
        assert any(expected in p for p in problems), (expected, problems)


def _annotated(*annotations: dict[str, object]) -> dict[str, object]:
    board = dashboard()
    board["annotations"] = {"list": list(annotations)}
    return board


GRAFANA = {"type": "grafana", "uid": "-- Grafana --"}
PROMETHEUS = {"type": "prometheus", "uid": "prometheus"}


def test_annotations_by_tag_read_grafana_and_queries_read_our_prometheus() -> None:
    tags = {"name": "Deploys", "datasource": GRAFANA, "target": {"type": "tags", "tags": ["d"]}}
    query = {"name": "Rollbacks", "datasource": PROMETHEUS, "expr": "up > 0"}
    assert lint_all([_annotated(tags, query)]) == []
    wrong_store = {**tags, "datasource": PROMETHEUS}
    assert only(lint_all([_annotated(wrong_store)])) == (
        "[panels] dashboard demo-overview annotation 'Deploys': "
        "a tag query reads Grafana's built-in datasource"
    )
    no_tags = {**tags, "target": {"type": "tags", "tags": []}}
    assert "a tag query needs its tags" in only(lint_all([_annotated(no_tags)]))
    other = {**query, "datasource": {"type": "prometheus", "uid": "thanos"}}
    assert "datasource uid 'thanos' is not prometheus.datasource_uid" in only(
        lint_all([_annotated(other)])
    )
    by_name = {**query, "datasource": "Prometheus"}
    assert "datasource 'Prometheus' is not by uid" in only(lint_all([_annotated(by_name)]))
