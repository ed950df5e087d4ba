"""git: the commit a publish came from, for Grafana's version message."""

from __future__ import annotations

import subprocess
from pathlib import Path


def short_commit(cwd: str | Path = ".") -> str | None:
    """``git rev-parse --short HEAD``, or None outside a repository or without git."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None
