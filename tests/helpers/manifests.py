"""What the repository deploys, as objects: ``python -m sre.render`` output and
``kubectl kustomize deploy/`` built beside it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import kustomize_command

ROOT = Path(__file__).resolve().parents[2]


def render_build(out: Path) -> Path:
    """Render the repository's sre.yaml into ``out`` (promtool checks skipped: other tests
    run them). Content checks (runbooks ...) may fail while this is being written; the
    objects are what matters to the deploy tests, and their users fail loudly if missing."""
    subprocess.run(
        [sys.executable, "-m", "sre.render", "--config", str(ROOT / "sre.yaml"),
         "--out", str(out), "--skip-promtool"],
        cwd=ROOT, capture_output=True, check=False, timeout=240,
    )  # fmt: skip
    return out


def kustomize_objects(work: Path, overlay: str = "") -> list[dict[str, Any]]:
    """``kubectl kustomize deploy/[overlay]`` next to a freshly rendered ``build/kubernetes``."""
    shutil.copytree(ROOT / "deploy", work / "deploy", symlinks=True)
    render_build(work / "build")
    done = subprocess.run(
        [*kustomize_command(), str(work / "deploy" / overlay)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]
