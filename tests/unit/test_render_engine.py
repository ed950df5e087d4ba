"""The pure render: file layout, Kubernetes wrappers, ConfigMap packing, writer, summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from sre.render import engine, kubernetes, writer
from sre.render.problems import Problem
from sre.render.summary import problem_list, summary
from tests.unit.test_render_fixtures import RUNBOOKS, config, dashboard, group, panel


def render(dashboards: list[dict[str, Any]] | None = None) -> engine.Rendered:
    boards = dashboards if dashboards is not None else [dashboard("demo-a"), dashboard("demo-b")]
    return engine.render(
        config(), boards, [group()], runbooks=RUNBOOKS, datasource_uid="prometheus"
    )


def test_layout_and_no_problems() -> None:
    out = render()
    assert out.problems == []
    assert sorted(out.files) == [
        "dashboards/demo-a.json",
        "dashboards/demo-b.json",
        "kubernetes/configmap-dashboards-1.yaml",
        "kubernetes/kube-prometheus-stack-values.yaml",
        "kubernetes/kustomization.yaml",
        "kubernetes/prometheusrule-demo.yaml",
        "kubernetes/servicemonitor-api.yaml",
        "prometheus/prometheus.yaml",
        "rules/demo.yaml",
    ]
    text = out.files["dashboards/demo-a.json"]
    assert text.endswith("}\n")
    assert json.loads(text)["uid"] == "demo-a"
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"
    assert out.counts["dashboards"] == 2
    assert out.counts["alerts"] == 1
    assert out.counts["records"] == 1
    assert len(out.queries) == 8  # 3 targets + 1 variable, per dashboard


def test_render_is_deterministic() -> None:
    assert render().files == render().files


def test_prometheus_rule_object() -> None:
    obj = yaml.safe_load(render().files["kubernetes/prometheusrule-demo.yaml"])
    assert obj["apiVersion"] == "monitoring.coreos.com/v1"
    assert obj["kind"] == "PrometheusRule"
    assert obj["metadata"]["name"] == "demo-demo"
    assert obj["metadata"]["namespace"] == "observability"
    assert obj["metadata"]["labels"]["release"] == "my-stack"
    rule_file = yaml.safe_load(render().files["rules/demo.yaml"])
    assert obj["spec"] == rule_file


def test_configmap_carries_sidecar_label_folder_and_exact_json() -> None:
    out = render()
    obj = yaml.safe_load(out.files["kubernetes/configmap-dashboards-1.yaml"])
    assert obj["kind"] == "ConfigMap"
    assert obj["metadata"]["namespace"] == "observability"
    assert obj["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert obj["metadata"]["annotations"] == {"grafana_folder": "Demo"}
    assert obj["data"] == {
        "demo-a.json": out.files["dashboards/demo-a.json"],
        "demo-b.json": out.files["dashboards/demo-b.json"],
    }


def test_kustomization_lists_every_object() -> None:
    out = render()
    kust = yaml.safe_load(out.files["kubernetes/kustomization.yaml"])
    assert kust["kind"] == "Kustomization"
    assert kust["resources"] == [
        "configmap-dashboards-1.yaml",
        "prometheusrule-demo.yaml",
        "servicemonitor-api.yaml",
    ]


def big_dashboard(uid: str, size: int) -> dict[str, Any]:
    board = dashboard(uid)
    board["description"] = "x" * size
    return board


def shipped(out: engine.Rendered) -> tuple[list[dict[str, Any]], dict[str, str]]:
    maps = [yaml.safe_load(out.files[p]) for p in out.paths("kubernetes/configmap-")]
    data: dict[str, str] = {}
    for obj in maps:
        assert not data.keys() & obj["data"].keys()  # every dashboard exactly once
        data.update(obj["data"])
    return maps, data


def test_configmaps_fit_client_side_kubectl_apply() -> None:
    # kubectl apply (client-side) copies the object into an annotation of at most 256 KiB.
    boards = [big_dashboard(f"mid-{i:02}", 60_000) for i in range(10)]
    out = render(boards)
    maps, data = shipped(out)
    assert sorted(data) == [f"mid-{i:02}.json" for i in range(10)]
    assert 2 < len(maps) < 10  # packed several per ConfigMap, but split
    for obj in maps:
        assert len(json.dumps(obj, separators=(",", ":")).encode()) < 256 * 1024
        assert obj["metadata"]["name"] == f"demo-dashboards-{maps.index(obj) + 1}"
    assert out.problems == []


def test_big_dashboards_get_a_configmap_each_under_one_mebibyte() -> None:
    boards = [big_dashboard(f"big-{i}", 400_000) for i in range(3)]
    out = render(boards)
    _, data = shipped(out)
    assert out.paths("kubernetes/configmap-") == [
        f"kubernetes/configmap-dashboards-{i}.yaml" for i in (1, 2, 3)
    ]
    assert all(len(out.files[p].encode()) < kubernetes.MAX_OBJECT_BYTES for p in out.files)
    assert data == {f"big-{i}.json": out.files[f"dashboards/big-{i}.json"] for i in range(3)}
    assert out.problems == []


def test_a_dashboard_too_big_for_any_configmap_is_an_error() -> None:
    out = render([big_dashboard("huge", 1_100_000), dashboard("small")])
    assert [str(p) for p in out.problems] == [
        f"[kubernetes] dashboard huge: is {len(out.files['dashboards/huge.json'].encode()):,} "
        "bytes: too big for one ConfigMap (limit 1,048,576); split the dashboard"
    ]
    assert (
        "small.json" in yaml.safe_load(out.files["kubernetes/configmap-dashboards-1.yaml"])["data"]
    )


def test_unsafe_uid_is_reported_and_written_under_a_safe_name() -> None:
    board = dashboard("../evil")
    out = render([board])
    assert "[dashboards] dashboard '../evil': uid must be letters, digits, . _ -" in [
        str(p) for p in out.problems
    ]
    assert "dashboards/evil.json" in out.files


def test_non_ascii_text_round_trips_through_the_configmap() -> None:
    board = dashboard("uni")
    board["panels"][0]["description"] = "Durée p95 — ≥ 0.5 s\u2028next"
    out = render([board])
    obj = yaml.safe_load(out.files["kubernetes/configmap-dashboards-1.yaml"])
    assert obj["data"]["uni.json"] == out.files["dashboards/uni.json"]


def test_writer_replaces_stale_files_and_leaves_the_rest(tmp_path: Path) -> None:
    (tmp_path / "dashboards").mkdir()
    (tmp_path / "dashboards" / "deleted-in-code.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("mine")
    files = render().files
    writer.write(tmp_path, files)
    assert not (tmp_path / "dashboards" / "deleted-in-code.json").exists()
    assert (tmp_path / "notes.txt").read_text() == "mine"
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.*"))
    assert written == sorted([*files, "notes.txt"])
    assert (tmp_path / "rules" / "demo.yaml").read_bytes() == files["rules/demo.yaml"].encode()


def test_writer_refuses_paths_outside_its_directories(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="refusing to write"):
        writer.write(tmp_path, {"../x.json": "{}"})


def test_summary_counts_and_check_results() -> None:
    out = render()
    problems = [
        Problem("layout", 'dashboard d panel 2 "P"', "overlaps"),
        Problem("layout", 'dashboard d panel 3 "Q"', "overlaps"),
    ]
    text = summary(
        "build",
        out.files,
        problems,
        skipped={"promtool-rules": "--skip-promtool"},
        counts=out.counts,
    )
    lines = text.splitlines()
    assert lines[0] == "Written to build/"
    dashboards_row = next(line for line in lines if line.strip().startswith("dashboard JSON"))
    sizes = sum(len(out.files[p].encode()) for p in out.files if p.startswith("dashboards/"))
    assert dashboards_row.split()[-2:] == ["2", f"{sizes:,}"]
    assert any(line.split()[:3] == ["layout", "FAIL", "(2)"] for line in lines)
    assert any(
        line.split()[:3] == ["promtool-rules", "skipped", "(--skip-promtool)"] for line in lines
    )
    assert any(line.split()[:2] == ["panels", "pass"] for line in lines)
    assert lines[-1] == "FAILED: 2 problems in 1 check (listed above)"
    assert summary("b", {}, [], skipped={}, counts={}).endswith("OK: all checks passed")


def test_problem_list_orders_by_check() -> None:
    text = problem_list(
        [Problem("naming", "b", "2"), Problem("content", "a", "1"), Problem("layout", "c", "3")]
    )
    assert text.splitlines() == [
        "3 problems:",
        "  ✗ [content] a: 1",
        "  ✗ [naming] b: 2",
        "  ✗ [layout] c: 3",
    ]


def test_problem_with_unknown_check_id_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown check id"):
        Problem("nope", "x", "y")


def test_panel_fixture_with_new_id_is_independent() -> None:
    # Guards the fixtures: building one panel must not share dicts with another.
    a, b = panel(1), panel(2)
    a["datasource"]["uid"] = "changed"
    assert b["datasource"]["uid"] == "prometheus"
