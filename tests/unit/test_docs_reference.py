"""The reference pages are generated from the code and the committed ones are current."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sre import catalog
from sre.config.loader import yaml_key
from sre.docs import config_classes, render
from sre.docs.__main__ import main

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_reference_pages_are_current(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check"]) == 0, capsys.readouterr().err


def test_a_stale_page_is_named_and_rewritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "config.md").write_text(render("config").replace("host:port", "port"))
    assert main(["--check", "--out", str(tmp_path)]) == 1
    assert "config.md" in capsys.readouterr().err
    assert main(["--out", str(tmp_path)]) == 0
    assert main(["--check", "--out", str(tmp_path)]) == 0


def test_every_key_and_metric_is_in_the_reference() -> None:
    config = render("config")
    for cls in config_classes():
        for field in dataclasses.fields(cls):
            assert f"| `{yaml_key(field)}` |" in config, f"{cls.__name__}.{field.name}"
    assert config.count("## ") >= 20 and "## `services[].rollback`" in config
    assert "| `for` | duration | `2m` |" in config
    assert "| `services` | list of sections | **required** |" in config
    metrics = render("metrics")
    for name in [*catalog.DAEMON_METRICS, *catalog.AGENT_METRICS]:
        assert f"| `{name}` |" in metrics
    assert "`outcome`: `success`, `failure`, `missed`" in metrics
