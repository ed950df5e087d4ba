"""``python -m sre.render`` as a user runs it: a subprocess on the real sre.yaml and content."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sre.catalog import DASHBOARD_SLUGS, dashboard_uid
from sre.config import load_config
from sre.render.kubernetes import MAX_OBJECT_BYTES
from sre.render.rulefiles import rule_files
from tests.helpers import find_binary, kustomize_command

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prometheus_versions")]

REPO = Path(__file__).resolve().parents[2]


def render(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sre.render", "--config", str(REPO / "sre.yaml"), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory, prometheus_versions: object) -> Path:
    """One full render, promtool included, shared by the layout tests."""
    find_binary("promtool")
    out = tmp_path_factory.mktemp("render") / "build"
    proc = render("--out", str(out))
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert proc.stderr == ""
    assert proc.stdout.splitlines()[-1] == "OK: all checks passed"
    return out


def test_layout(build: Path) -> None:
    cfg = load_config(REPO / "sre.yaml")
    dashboards = sorted(p.name for p in (build / "dashboards").iterdir())
    assert dashboards == sorted(f"{dashboard_uid(cfg.system, s)}.json" for s in DASHBOARD_SLUGS)

    import rules

    expected_rules = sorted(rule_files(rules.all_groups(cfg)))
    assert sorted(p.name for p in (build / "rules").iterdir()) == expected_rules

    k8s = build / "kubernetes"
    kust = yaml.safe_load((k8s / "kustomization.yaml").read_text())
    not_objects = ("kustomization.yaml", "kube-prometheus-stack-values.yaml")
    objects = sorted(p.name for p in k8s.iterdir() if p.name not in not_objects)
    assert kust["resources"] == objects
    assert sorted(f"prometheusrule-{r}" for r in expected_rules) == [
        o for o in objects if o.startswith("prometheusrule-")
    ]


def test_kubernetes_objects(build: Path) -> None:
    cfg = load_config(REPO / "sre.yaml")
    shipped: dict[str, str] = {}
    for path in sorted((build / "kubernetes").glob("*.yaml")):
        assert path.stat().st_size < MAX_OBJECT_BYTES, path
        if path.name in ("kustomization.yaml", "kube-prometheus-stack-values.yaml"):
            continue
        obj = yaml.safe_load(path.read_text())
        assert obj["metadata"]["namespace"] == cfg.kubernetes.namespace
        if obj["kind"] == "PrometheusRule":
            assert obj["apiVersion"] == "monitoring.coreos.com/v1"
            labels = obj["metadata"]["labels"]
            assert labels.items() >= cfg.kubernetes.rule_labels.items()
            rule_file = build / "rules" / path.name.removeprefix("prometheusrule-")
            assert obj["spec"] == yaml.safe_load(rule_file.read_text())
        elif obj["kind"] in ("ServiceMonitor", "PodMonitor"):
            assert obj["metadata"]["labels"].items() >= cfg.kubernetes.monitor_labels.items()
        else:
            assert obj["kind"] == "ConfigMap"
            labels = obj["metadata"]["labels"]
            assert labels.items() >= cfg.kubernetes.dashboard_labels.items()
            shipped.update(obj["data"])
    assert shipped == {
        p.name: p.read_text(encoding="utf-8") for p in (build / "dashboards").iterdir()
    }


def test_kustomize_accepts_the_directory(build: Path) -> None:
    proc = subprocess.run(
        [*kustomize_command(), str(build / "kubernetes")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    kinds = sorted(doc["kind"] for doc in yaml.safe_load_all(proc.stdout))
    files = sorted((build / "kubernetes").glob("*.yaml"))
    assert len(kinds) == len(files) - 2  # not the kustomization, not the Helm values
    assert set(kinds) == {"ConfigMap", "PrometheusRule", "ServiceMonitor"}


def test_rerender_is_byte_identical_and_drops_stale_files(build: Path, tmp_path: Path) -> None:
    again = tmp_path / "build"
    (again / "dashboards").mkdir(parents=True)
    (again / "dashboards" / "removed-from-code.json").write_text("{}\n")
    for _ in range(2):
        proc = render("--out", str(again), "--skip-promtool")
        assert proc.returncode == 0, proc.stderr
    assert snapshot(again) == snapshot(build)


def test_bad_config_exits_2_with_every_key_path(tmp_path: Path) -> None:
    bad = tmp_path / "sre.yaml"
    bad.write_text(
        "system: parallel-ai\n"
        "prometheus: {url: ftp://x}\n"
        "runbooks: {base_url: https://x/}\n"
        "services:\n"
        "  - {name: api, namespace: demo, slo: {availability: 120}}\n"
        "cost: {schedule: 'every day'}\n"
        "aws: {region: us-west-2}\n"
        "daemon: {listen: nowhere, statee: x}\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "sre.render", "--config", str(bad), "--out", str(tmp_path / "b")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"error: {bad}: 5 problems")
    for key in (
        "prometheus.url",
        "services[0].slo.availability",
        "cost.schedule",
        "daemon.listen",
        "daemon.statee",
    ):
        assert f"  - {key}: " in proc.stderr, (key, proc.stderr)
    assert not (tmp_path / "b").exists()


def test_without_promtool_on_path(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}  # python is run by absolute path
    proc = render("--out", str(tmp_path / "b"), env=env)
    assert proc.returncode == 1
    assert "promtool not found on PATH" in proc.stderr
    assert "--skip-promtool" in proc.stderr
    assert "Traceback" not in proc.stderr

    assert "amtool not found on PATH" in proc.stderr

    proc = render("--out", str(tmp_path / "b"), "--skip-promtool", "--skip-amtool", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "skipped (--skip-promtool)" in proc.stdout


def test_help() -> None:
    proc = render("--help")
    assert proc.returncode == 0
    for flag in ("--config", "--out", "--skip-promtool", "--publish", "--dry-run", "--prune"):
        assert flag in proc.stdout
