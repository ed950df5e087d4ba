"""amtool, the only place that runs it: ``check-config`` on a rendered Alertmanager
configuration and ``config routes test`` for route cases.

Failures of the tool itself (missing binary, time-out, output we cannot read) raise
:class:`ClientError`; what amtool finds wrong comes back as plain messages.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sre.clients import ClientError

log = logging.getLogger(__name__)
# amtool is a short-lived Go binary; a few at once keep a route-test run short on 2 cores.
PARALLEL = 4


def find(binary: str = "amtool") -> str:
    found = shutil.which(binary)
    if found is None:
        raise ClientError(
            "missing",
            f"{binary} not found on PATH: install Debian's 'prometheus-alertmanager' package "
            "(make render and make test do) or pass --skip-amtool",
            retryable=False,
        )
    return found


def _run(args: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    log.debug("running %s", " ".join(args))
    try:
        return subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "LC_ALL": "C"},
        )
    except subprocess.TimeoutExpired:
        raise ClientError(
            "timeout", f"amtool did not finish within {timeout:g}s", retryable=True
        ) from None
    except OSError as err:
        raise ClientError("unreachable", f"cannot run amtool: {err}", retryable=False) from None


def check_config(path: Path, *, binary: str = "amtool", timeout: float = 60.0) -> list[str]:
    """``amtool check-config``; empty list = valid, else amtool's own error lines."""
    proc = _run([find(binary), "check-config", str(path)], timeout)
    if proc.returncode == 0:
        return []
    lines = [
        line.strip()
        for line in (proc.stdout + "\n" + proc.stderr).splitlines()
        if line.strip() and not line.startswith("amtool: error: failed to validate")
    ]
    found = [line.split("FAILED: ", 1)[-1] for line in lines if not line.startswith("Found:")]
    if not found:
        raise ClientError(
            "bad_response", f"amtool exited {proc.returncode} without saying why", retryable=False
        )
    return found


def _label_args(labels: Mapping[str, str]) -> list[str]:
    """Each label as a quoted equality matcher, so values with spaces or '=' survive."""
    out = []
    for name, value in sorted(labels.items()):
        quoted = value.replace("\\", "\\\\").replace('"', '\\"')
        out.append(f'{name}="{quoted}"')
    return out


def route_receivers(
    path: Path, labels: Mapping[str, str], *, binary: str = "amtool", timeout: float = 30.0
) -> tuple[str, ...]:
    """The receivers ``amtool config routes test`` says an alert with ``labels`` reaches."""
    proc = _run(
        [find(binary), "config", "routes", "test", f"--config.file={path}", *_label_args(labels)],
        timeout,
    )
    out = [line.strip() for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not out:
        raise ClientError(
            "bad_response",
            f"amtool config routes test failed (exit {proc.returncode}): "
            f"{(proc.stderr or proc.stdout).strip()[:300]}",
            retryable=False,
        )
    return tuple(r for r in out[-1].split(",") if r)


def routes_for(
    path: Path, cases: Sequence[Mapping[str, str]], *, binary: str = "amtool"
) -> list[tuple[str, ...]]:
    """:func:`route_receivers` for every label set, a few at a time, in order."""
    find(binary)
    with ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(lambda labels: route_receivers(path, labels, binary=binary), cases))
