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


def _steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def test_actions_pinned_by_commit_with_their_release_named() -> None:
    text = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    uses = re.findall(r"^\s*(?:- )?uses: (\S+)(.*)$", text, re.M)
    assert uses
    for ref, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), f"{ref}: pin by full commit SHA"
        assert re.fullmatch(r" # v\d+\.\d+\.\d+", comment), f"{ref}: name the release (# vX.Y.Z)"


def test_checkouts_keep_no_credentials(workflow: dict[Any, Any]) -> None:
    checkouts = [s for s in _steps(workflow) if s.get("uses", "").startswith("actions/checkout@")]
    assert checkouts
    for step in checkouts:
        assert step["with"]["persist-credentials"] is False


def test_least_permissions(workflow: dict[Any, Any]) -> None:
    assert workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        assert job["permissions"] == {"contents": "read"}, name


def test_make_lint_runs_the_workflow_and_image_linters() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    for tool in ("actionlint", "zizmor", "hadolint"):
        assert re.search(rf"^\t\$\(BIN\)/{tool} ", recipe, re.M), tool


def test_every_linter_exception_is_justified() -> None:
    lines = (ROOT / ".hadolint.yaml").read_text().splitlines()
    config = yaml.safe_load("\n".join(lines))
    for rule in config.get("ignored", []):
        at = next(i for i, line in enumerate(lines) if line.strip() == f"- {rule}")
        assert lines[at - 1].strip().startswith("#"), f"{rule} is ignored without a reason"
