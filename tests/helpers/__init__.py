"""Shared test helpers: free ports, waiting for servers, finding Debian binaries."""

from __future__ import annotations

import shutil
from pathlib import Path

from sre.devtools.loopback import find_binary, free_port, wait_for_http

__all__ = ["find_binary", "free_port", "kustomize_command", "wait_for_http"]


def kustomize_command() -> list[str]:
    """``kubectl kustomize``, or the pinned kustomize where kubectl is missing.

    ``make test`` installs the pinned one (scripts/install-kustomize.sh) on machines
    without kubectl; without either, fail loudly rather than skip.
    """
    kubectl = shutil.which("kubectl")
    if kubectl:
        return [kubectl, "kustomize"]
    pinned = Path(__file__).resolve().parents[2] / ".tools" / "bin" / "kustomize"
    if pinned.is_file():
        return [str(pinned), "build"]
    raise RuntimeError("neither kubectl nor kustomize found: run scripts/install-kustomize.sh")
