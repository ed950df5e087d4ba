"""The command in-process: broken content and configs end in readable problems, not tracebacks.

promtool is the real one here: bad PromQL in a rule or a dashboard is found by it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from sre.config import Config
from sre.render import __main__ as cli
from sre.render import content
from sre.render.content import Content
from sre.render.engine import json_text
from sre.render.problems import Problem
from tests.helpers import find_binary
from tests.unit.test_render_fixtures import (
    alert,
    config,
    dashboard,
    group,
    panel,
    record,
)

pytestmark = pytest.mark.usefixtures("prometheus_versions")


def loaded(
    dashboards: list[dict[str, Any]] | None = None, groups: list[Any] | None = None
) -> Content:
    boards = dashboards if dashboards is not None else [dashboard()]
    return Content(
        dashboards=boards,
        texts=[json_text(d) for d in boards],
        groups=groups if groups is not None else [group()],
    )


def runbooks(tmp_path: Path, *names: str) -> Path:
    directory = tmp_path / "runbooks"
    directory.mkdir(exist_ok=True)
    for name in names:
        (directory / f"{name}.md").write_text(f"# {name}\n")
    return directory


def run(tmp_path: Path, stuff: Content, *, skip: bool = False, cfg: Config | None = None) -> int:
    return cli.run(
        cfg or config(),
        tmp_path / "build",
        skip_promtool=skip,
        runbooks=runbooks(tmp_path, "DemoServiceDown"),
        loaded=stuff,
    )


@pytest.mark.integration
def test_clean_content_passes_every_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    find_binary("promtool")
    assert run(tmp_path, loaded()) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.splitlines()[-1] == "OK: all checks passed"
    assert re.search(r"promtool-promql +pass", out)
    assert re.search(r"promtool-config +pass", out)
    assert (tmp_path / "build" / "rules" / "demo.yaml").is_file()


@pytest.mark.integration
def test_broken_rule_each_problem_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    find_binary("promtool")
    rules = group(
        record(),
        alert(),
        alert("DemoBadPromql", expr="sum(rate(http_requests_total[5m]) > 1"),
        alert("DemoNoSeverity", severity=""),
        alert("DemoUnknownRecord", expr="service:http_requests:rate1m > 1"),
    )
    assert run(tmp_path, loaded(groups=[rules])) == 1
    out, err = capsys.readouterr()
    where = 'rules/demo.yaml group "demo.rules" alert'
    lines = err.splitlines()
    assert lines[0] == "6 problems:"
    expected = [
        '  ✗ [promtool-rules] rules/demo.yaml: 17:11: group "demo.rules", rule 3, '
        '"DemoBadPromql": could not parse expression: 1:38: parse error: unclosed left '
        "parenthesis",
        f"  ✗ [recording-rules] {where} DemoUnknownRecord: uses recording rule "
        "service:http_requests:rate1m, which no group defines",
        f"  ✗ [alerts] {where} DemoNoSeverity: severity is ''; must be one of critical, "
        "warning, info",
        f"  ✗ [runbooks] {where} DemoBadPromql: runbooks/DemoBadPromql.md is missing",
        f"  ✗ [runbooks] {where} DemoNoSeverity: runbooks/DemoNoSeverity.md is missing",
        f"  ✗ [runbooks] {where} DemoUnknownRecord: runbooks/DemoUnknownRecord.md is missing",
    ]
    for line in expected:
        assert line in lines, (line, lines)
    assert "Traceback" not in out + err
    assert out.splitlines()[-1].startswith("FAILED: 6 problems in 4 checks")


@pytest.mark.integration
def test_broken_dashboard_each_problem_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    find_binary("promtool")
    board = dashboard(
        panels=[
            panel(1, 0, 0),
            panel(2, 6, 0, expr="sum(rate(http_requests_total[$__rate_interval])"),
            panel(2, 0, 8, w=24, unit=None),
        ]
    )
    assert run(tmp_path, loaded([board])) == 1
    _, err = capsys.readouterr()
    lines = err.splitlines()
    name = "dashboard demo-overview panel"
    for expected in (
        f'  ✗ [promtool-promql] {name} 2 "Panel 2" target A: 1:34: parse error: unclosed left '
        "parenthesis in: sum(rate(http_requests_total[1m])  (Grafana variables substituted)",
        f'  ✗ [layout] {name} 2 "Panel 2": gridPos x=6 y=0 w=12 h=8 overlaps panel 1 '
        "'Panel 1' at x=0 y=0 w=12 h=8",
        f"  ✗ [layout] {name} id 2: shared by 2 panels: 'Panel 2', 'Panel 2'",
        f"  ✗ [panels] {name} 2 \"Panel 2\": has no unit (fieldConfig.defaults.unit, e.g. 'reqps')",
    ):
        assert expected in lines, (expected, lines)
    assert lines[0] == "4 problems:"


def test_without_promtool_it_says_so_unless_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert run(tmp_path, loaded()) == 1
    _, err = capsys.readouterr()
    assert "[promtool-rules] promtool: promtool not found on PATH: install Debian's " in err
    assert "or pass --skip-promtool" in err
    assert run(tmp_path, loaded(), skip=True) == 0
    out, _ = capsys.readouterr()
    assert re.search(r"promtool-rules +skipped \(--skip-promtool\)", out)
    assert out.splitlines()[-1] == "OK: all checks passed (3 skipped)"


def test_content_that_raises_becomes_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(cfg: Config) -> list[Any]:
        raise RuntimeError("threshold missing for service api")

    monkeypatch.setattr(content, "_all_groups", boom)
    monkeypatch.setattr(content, "_all_dashboards", lambda cfg: [])
    found = content.load(config())
    assert len(found.problems) == 1
    problem = found.problems[0]
    assert problem.check == "content"
    assert problem.where == "rules.all_groups(cfg)"
    assert problem.message.startswith(
        "failed: RuntimeError: threshold missing for service api (tests/unit/test_render_main.py:"
    )


def test_content_of_the_wrong_type_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(content, "_all_groups", lambda cfg: [group(), {"name": "x"}])
    monkeypatch.setattr(content, "_all_dashboards", lambda cfg: [])
    found = content.load(config())
    assert found.problems == [Problem("content", "rules.all_groups(cfg)[1]", "is a dict")]
    assert len(found.groups) == 1


BAD_CONFIG = """\
system: Parallel_AI
prometheus: {url: not-a-url}
runbooks: {base_url: https://x/}
services:
  - name: api
    namespace: demo
    rollback:
      target: {kind: deployment, name: api}
      for: 2x
  - name: web
    namespace: demo
    sloo: {availability: 99.9}
    health: {url: "http://web/", interval: 5s, timeout: 10s}
"""


def test_bad_config_exits_2_listing_every_key_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sre.yaml"
    path.write_text(BAD_CONFIG)
    assert cli.main(["--config", str(path), "--out", str(tmp_path / "b")]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"error: {path}: 5 problems\n")
    for key in (
        "system:",
        "prometheus.url:",
        "services[0].rollback.for:",
        "services[1].sloo:",
        "services[1].health.timeout:",
    ):
        assert f"  - {key}" in err, (key, err)
    assert "did you mean" in err
    assert not (tmp_path / "b").exists()


def test_missing_config_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--config", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_dry_run_without_publish_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["--dry-run"])
    assert caught.value.code == 2
    assert "only make sense with --publish" in capsys.readouterr().err


def test_unwritable_output_is_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "build"
    blocker.write_text("a file where the output directory should be\n")
    assert run(tmp_path, loaded(), skip=True) == 1
    assert capsys.readouterr().err == (
        f"error: cannot write {blocker}: Not a directory ({blocker}/dashboards)\n"
    )


def test_a_daemon_only_config_is_a_clear_render_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The daemon runs with neither section; the render cannot (datasource, runbook links).
    path = tmp_path / "sre.yaml"
    path.write_text("system: demo\nservices: [{name: api, namespace: demo}]\n")
    assert cli.main(["--config", str(path), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: 2 problems\n"), err
    assert "  - prometheus: missing required section (rendering needs it)" in err
    assert "  - runbooks: missing required section (rendering needs it)" in err
    assert not (tmp_path / "b").exists()
