"""The promtool unit tests themselves: coverage of every alert, and a real promtool run.

``rules/tests/*.yaml`` point at ``../../build/rules/<file>.yaml``; here the rule files are
rendered into a temporary tree with the same shape, so the tests never depend on a stale
``build/`` and a broken case fails pytest.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from rules import all_groups
from sre.config import Config, load_config
from sre.render.rulefiles import rule_files
from tests.helpers import find_binary

pytestmark = pytest.mark.usefixtures("prometheus_versions")

ROOT = Path(__file__).resolve().parents[2]
TEST_DIR = ROOT / "rules" / "tests"


def _test_files() -> list[Path]:
    return sorted(TEST_DIR.glob("*.yaml"))


def _cases() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in _test_files():
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in doc.get("tests", []):
            for case in group.get("alert_rule_test", []) or []:
                yield path, case


# Fires by design, every evaluation: it has no quiet case to test.
ALWAYS_FIRING = {"Watchdog"}


def coverage(alerts: set[str]) -> dict[str, list[str]]:
    """alert name -> what it lacks ("firing case", "non-firing case")."""
    firing: set[str] = set()
    quiet: set[str] = set()
    for _, case in _cases():
        (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    missing: dict[str, list[str]] = {}
    for name in sorted(alerts):
        lacks = [
            label
            for label, found in (("firing case", firing), ("non-firing case", quiet))
            if name not in found and not (name in ALWAYS_FIRING and found is quiet)
        ]
        if lacks:
            missing[name] = lacks
    return missing


@pytest.fixture(scope="module")
def cfg() -> Config:
    return load_config(ROOT / "sre.yaml")


def _alert_names(cfg: Config) -> set[str]:
    return {a.alert for g in all_groups(cfg) for a in g.alerts}


def test_there_are_promtool_tests() -> None:
    assert len(_test_files()) >= 8
    assert sum(1 for _ in _cases()) >= 80


def test_every_alert_has_a_firing_and_a_non_firing_case(cfg: Config) -> None:
    missing = coverage(_alert_names(cfg))
    assert missing == {}, "alerts without promtool cases: " + ", ".join(
        f"{name} ({' and '.join(lacks)})" for name, lacks in missing.items()
    )


def test_coverage_check_notices_a_missing_case(cfg: Config) -> None:
    # An alert no test mentions must be reported as lacking both cases.
    assert coverage(_alert_names(cfg) | {"ServiceBrandNew"}) == {
        "ServiceBrandNew": ["firing case", "non-firing case"]
    }


def test_no_case_names_an_unknown_alert(cfg: Config) -> None:
    names = _alert_names(cfg)
    stale = sorted({case["alertname"] for _, case in _cases()} - names)
    assert stale == []


def test_firing_cases_check_labels_and_all_annotations() -> None:
    for path, case in _cases():
        for alert in case.get("exp_alerts") or []:
            where = f"{path.name}: {case['alertname']}"
            assert {"severity", "environment"} <= set(alert["exp_labels"]), where
            assert {"summary", "description", "runbook_url"} <= set(alert["exp_annotations"]), where


def test_every_rule_file_has_a_test_file(cfg: Config) -> None:
    rendered = {name.removesuffix(".yaml") for name in rule_files(all_groups(cfg))}
    tested = {p.name.removesuffix("_test.yaml") for p in _test_files()}
    assert rendered <= tested


def _render_tree(cfg: Config, root: Path) -> list[Path]:
    """build/rules/*.yaml and rules/tests/*.yaml under ``root``; return the test files."""
    rules_dir = root / "build" / "rules"
    rules_dir.mkdir(parents=True)
    for name, text in rule_files(all_groups(cfg)).items():
        (rules_dir / name).write_text(text, encoding="utf-8")
    tests_dir = root / "rules" / "tests"
    tests_dir.mkdir(parents=True)
    for path in _test_files():
        shutil.copy(path, tests_dir / path.name)
    return sorted(tests_dir.glob("*.yaml"))


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [find_binary("promtool"), *args], capture_output=True, text=True, timeout=240, check=False
    )


def test_promtool_check_rules_accepts_every_rendered_file(cfg: Config, tmp_path: Path) -> None:
    _render_tree(cfg, tmp_path)
    files = sorted(str(p) for p in (tmp_path / "build" / "rules").glob("*.yaml"))
    result = _promtool("check", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass(cfg: Config, tmp_path: Path) -> None:
    tests = _render_tree(cfg, tmp_path)
    result = _promtool("test", "rules", *(str(t) for t in tests))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(tests)


def test_promtool_unit_tests_catch_a_changed_threshold(cfg: Config, tmp_path: Path) -> None:
    # Rules rendered with a different CPU threshold no longer match the tested behaviour.
    changed = dataclasses.replace(
        cfg, thresholds=dataclasses.replace(cfg.thresholds, cpu_ratio_above=0.97)
    )
    tests = _render_tree(changed, tmp_path)
    result = _promtool("test", "rules", *(str(t) for t in tests if "resources" in t.name))
    assert result.returncode != 0
    assert "NodeHighCPU" in result.stdout + result.stderr


def test_a_minimal_config_renders_valid_rules(tmp_path: Path) -> None:
    # No Grafana, datastores, queues, probes, cost or backups: those rules drop out cleanly.
    from sre.config import parse_config

    minimal = parse_config(
        {
            "system": "mini",
            "prometheus": {"url": "http://prometheus:9090"},
            "runbooks": {"base_url": "https://example.com/runbooks/"},
            "services": [{"name": "api", "namespace": "apps"}],
        }
    )
    _render_tree(minimal, tmp_path)
    files = sorted(str(p) for p in (tmp_path / "build" / "rules").glob("*.yaml"))
    assert len(files) == 8  # no slo.yaml, no datastores.yaml
    result = _promtool("check", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr
