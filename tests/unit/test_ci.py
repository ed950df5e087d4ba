"""The GitHub Actions workflow runs what the README promises: lint, types, tests, render, image."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    data = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    assert isinstance(data, dict)
    return data


def runs(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_triggers(workflow: dict[Any, Any]) -> None:
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert "pull_request" in triggers and "push" in triggers


@pytest.mark.parametrize(
    ("job", "command"),
    [("lint", "make lint"), ("typecheck", "make typecheck"), ("test", "make test"),
     ("render", "make render")],
)  # fmt: skip
def test_make_targets(workflow: dict[Any, Any], job: str, command: str) -> None:
    assert re.search(rf"^{command}$", runs(workflow["jobs"][job]), re.M)
    assert workflow["jobs"][job]["container"].startswith("python:3.11")


def test_kubectl_for_the_deploy_tests_is_pinned(workflow: dict[Any, Any]) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for key in ("KUBECTL_VERSION", "KUBECTL_SHA256"):
        assert f"ARG {key}={workflow['env'][key]}\n" in dockerfile
    assert "sha256sum -c -" in runs(workflow["jobs"]["test"])


def test_docker_build_job_does_not_push(workflow: dict[Any, Any]) -> None:
    steps = workflow["jobs"]["docker"]["steps"]
    build = [s for s in steps if str(s.get("uses", "")).startswith("docker/build-push-action")]
    assert len(build) == 1 and build[0]["with"]["push"] is False
    assert "--read-only" in runs(workflow["jobs"]["docker"])
