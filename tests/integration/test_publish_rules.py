"""Rule rollout against a real Prometheus started with --web.enable-lifecycle."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sre.config import Config, parse_config
from sre.publish import MANIFEST, publish
from tests.helpers import find_binary, free_port, wait_for_http

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prometheus_versions")]


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    rules_dir = tmp_path / "prom-rules"
    rules_dir.mkdir()
    (tmp_path / "prometheus.yml").write_text(
        f"global: {{evaluation_interval: 1s}}\nrule_files: ['{rules_dir}/*.yaml']\n"
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            find_binary("prometheus"),
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/-/ready")
        yield url, rules_dir
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def config(url: str, rules_dir: Path, reload: bool = True) -> Config:
    return parse_config(
        {
            "system": "parallel-ai",
            "prometheus": {"url": url, "rules_dir": str(rules_dir), "reload": reload},
            "runbooks": {"base_url": "https://git.example.com/runbooks/"},
            "services": [{"name": "api-service", "namespace": "parallel-ai-system"}],
        }
    )


def rule_file(out: Path, name: str, *groups: str, expr: str = "vector(1)") -> None:
    directory = out / "rules"
    directory.mkdir(parents=True, exist_ok=True)
    body = "groups:\n" + "".join(
        f"- name: {g}\n  rules:\n  - record: test:{g.replace('-', '_')}:sum\n    expr: {expr}\n"
        for g in groups
    )
    (directory / name).write_text(body)


def loaded(url: str, skip: str = "") -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/api/v1/rules", timeout=5) as resp:
        data = json.load(resp)
    groups = data["data"]["groups"]
    return {g["name"]: Path(g["file"]).name for g in groups if g["name"] != skip}


def test_publish_writes_reloads_and_confirms_every_group(
    tmp_path: Path, prometheus: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    url, rules_dir = prometheus
    out = tmp_path / "build"
    rule_file(out, "slo.yaml", "slo-api", "slo-web")
    rule_file(out, "daemon.yaml", "sre-daemon")
    # An empty group: Prometheus 3 no longer lists it in /api/v1/rules, so publish must
    # not wait for it.
    (out / "rules" / "daemon.yaml").write_text(
        (out / "rules" / "daemon.yaml").read_text() + "- name: sre-empty\n  rules: []\n"
    )
    (rules_dir / "theirs.yaml").write_text(
        "groups:\n- name: theirs\n  rules:\n  - record: theirs:x:sum\n    expr: vector(1)\n"
    )

    code = publish(config(url, rules_dir), out, dry_run=False, prune=False)
    text = capsys.readouterr().out
    assert code == 0, text
    assert "all 3 groups loaded" in text
    assert loaded(url, skip="sre-empty") == {
        "slo-api": "slo.yaml",
        "slo-web": "slo.yaml",
        "sre-daemon": "daemon.yaml",
        "theirs": "theirs.yaml",
    }
    assert (rules_dir / MANIFEST).read_text() == "daemon.yaml\nslo.yaml\n"

    # The next render no longer has daemon.yaml: ours goes, someone else's file stays.
    (out / "rules" / "daemon.yaml").unlink()
    code = publish(config(url, rules_dir), out, dry_run=False, prune=False)
    text = capsys.readouterr().out
    assert code == 0, text
    assert "remove    daemon.yaml (no longer rendered)" in text
    assert "write     slo.yaml (unchanged)" in text
    assert set(loaded(url)) == {"slo-api", "slo-web", "theirs"}
    assert (rules_dir / "theirs.yaml").exists()


def test_dry_run_touches_nothing(
    tmp_path: Path, prometheus: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    url, rules_dir = prometheus
    out = tmp_path / "build"
    rule_file(out, "slo.yaml", "slo-api")
    code = publish(config(url, rules_dir), out, dry_run=True, prune=False)
    text = capsys.readouterr().out
    assert code == 0
    assert "write     slo.yaml (new)" in text and "reload" in text
    assert list(rules_dir.iterdir()) == []
    assert loaded(url) == {}


def test_rejected_reload_is_reported(
    tmp_path: Path, prometheus: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    url, rules_dir = prometheus
    out = tmp_path / "build"
    rule_file(out, "slo.yaml", "slo-api")
    assert publish(config(url, rules_dir), out, dry_run=False, prune=False) == 0
    good = (rules_dir / "slo.yaml").read_text()
    capsys.readouterr()

    rule_file(out, "slo.yaml", "slo-api", expr="sum(")  # promtool would have caught this
    rule_file(out, "extra.yaml", "extra")
    code = publish(config(url, rules_dir), out, dry_run=False, prune=False)
    text = capsys.readouterr().out
    assert code == 1
    errors = [line for line in text.splitlines() if "error" in line]
    assert len(errors) == 1 and "Prometheus rejected the reload" in errors[0]
    # The previous files are back, so a restart of Prometheus still works.
    assert (rules_dir / "slo.yaml").read_text() == good
    assert not (rules_dir / "extra.yaml").exists()
    assert (rules_dir / MANIFEST).read_text() == "slo.yaml\n"
    assert loaded(url) == {"slo-api": "slo.yaml"}


def test_unreachable_prometheus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "build"
    rule_file(out, "slo.yaml", "slo-api")
    cfg = config(f"http://127.0.0.1:{free_port()}", tmp_path / "rules-dir")
    code = publish(cfg, out, dry_run=False, prune=False)
    text = capsys.readouterr().out
    assert code == 1
    assert "rules: error: Prometheus at" in text and "is unreachable" in text


def test_reload_off_only_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "build"
    rule_file(out, "slo.yaml", "slo-api")
    cfg = config(f"http://127.0.0.1:{free_port()}", tmp_path / "rules-dir", reload=False)
    code = publish(cfg, out, dry_run=False, prune=False)
    assert code == 0, capsys.readouterr().out
    assert (tmp_path / "rules-dir" / "slo.yaml").read_text() == (out / "rules/slo.yaml").read_text()


def test_no_rendered_rules_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = config("http://127.0.0.1:9", tmp_path / "rules-dir")
    assert publish(cfg, tmp_path / "build", dry_run=False, prune=False) == 1
    assert "run python -m sre.render first" in capsys.readouterr().out
