"""The deploy examples of docs/deploys.md pass their ecosystem's linters, as the project's own
workflow does: the deploy script shellcheck, the GitHub Actions job actionlint and zizmor.
(tests/integration/test_verify_gate.py runs the script itself.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.docs import ROOT, Block, split

BIN = Path(sys.executable).parent
BLOCKS, _ = split(ROOT / "docs" / "deploys.md")


def block(lang: str, first_comment: str) -> Block:
    (found,) = [b for b in BLOCKS if b.lang == lang and (b.first_comment or "") == first_comment]
    return found


def lint(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def test_the_deploy_script_passes_shellcheck(tmp_path: Path) -> None:
    script = next(b for b in BLOCKS if b.lang == "bash" and "scripts/deploy.sh" in b.body)
    path = tmp_path / "deploy.sh"
    path.write_text(script.body)
    done = lint([str(BIN / "shellcheck"), "--severity=style", str(path)])
    assert done.returncode == 0, done.stdout + done.stderr
    # It must be able to fail: a classic mistake is found.
    path.write_text(script.body.replace('"$CONFIG"', "$CONFIG"))
    assert lint([str(BIN / "shellcheck"), str(path)]).returncode != 0


@pytest.fixture
def workflow(tmp_path: Path) -> Path:
    found = block("yaml", ".github/workflows/deploy.yml")
    path = tmp_path / ".github" / "workflows" / "deploy.yml"
    path.parent.mkdir(parents=True)
    path.write_text(found.body)
    return path


def test_the_deploy_job_passes_actionlint(workflow: Path) -> None:
    argv = [str(BIN / "actionlint"), f"-shellcheck={BIN / 'shellcheck'}", "-pyflakes="]
    done = lint([*argv, str(workflow)])
    assert done.returncode == 0, done.stdout + done.stderr
    workflow.write_text(workflow.read_text().replace("inputs.image", "inputs.imag"))
    assert lint([*argv, str(workflow)]).returncode != 0


def test_the_deploy_job_passes_zizmor(workflow: Path) -> None:
    argv = [str(BIN / "zizmor"), "--offline", "--no-progress", str(workflow.parent)]
    done = lint(argv)
    assert done.returncode == 0, done.stdout + done.stderr
    workflow.write_text(
        workflow.read_text().replace("persist-credentials: false", "fetch-depth: 1")
    )
    assert lint(argv).returncode != 0
