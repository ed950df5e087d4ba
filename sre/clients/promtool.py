"""promtool, the only place that runs it: ``check rules`` on files and on bare expressions.

Failures of the tool itself (missing binary, time-out, output we cannot read) raise
:class:`ClientError`; what promtool finds wrong with the input comes back as
:class:`Finding` values, one per error line, for the render summary.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from sre.clients import ClientError

log = logging.getLogger(__name__)

# Rule names under which expressions are checked; the index maps an error back.
_CHECK_RULE = "promql_check_{}"
_CHECK_LINE = re.compile(r'"promql_check_(\d+)": (.*)$')
_NOISE = re.compile(r"^(Checking |\s*SUCCESS|\s*FAILED:|\s*$)")


@dataclass(frozen=True)
class Finding:
    """One thing promtool rejected: which file (if known) and its own words."""

    file: str
    message: str


def find(binary: str = "promtool") -> str:
    """The promtool path; ``ClientError("missing")`` with what to do if there is none."""
    found = shutil.which(binary)
    if found is None:
        raise ClientError(
            "missing",
            f"{binary} not found on PATH: install Debian's 'prometheus' package "
            "(make test does) or pass --skip-promtool",
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
            "timeout", f"promtool did not finish within {timeout:g}s", retryable=True
        ) from None
    except OSError as err:
        raise ClientError("unreachable", f"cannot run promtool: {err}", retryable=False) from None


def _findings(output: str, files: Sequence[str]) -> list[Finding]:
    found = []
    for line in output.splitlines():
        if _NOISE.match(line):
            continue
        file = next((f for f in files if line.startswith(f"{f}:")), "")
        message = line[len(file) + 1 :].strip() if file else line.strip()
        found.append(Finding(file, message))
    return found


def check_rules(
    paths: Sequence[Path], *, binary: str = "promtool", timeout: float = 60.0
) -> list[Finding]:
    """``promtool check rules`` on all ``paths`` at once; empty list = all valid."""
    if not paths:
        return []
    files = [str(p) for p in paths]
    proc = _run([find(binary), "check", "rules", *files], timeout)
    if proc.returncode == 0:
        return []
    found = _findings(proc.stdout + "\n" + proc.stderr, files)
    if not found:
        raise ClientError(
            "bad_response",
            f"promtool exited {proc.returncode} without saying why: {proc.stderr.strip()!r}",
            retryable=False,
        )
    return found


def check_expressions(
    exprs: Sequence[str], *, binary: str = "promtool", timeout: float = 60.0
) -> dict[int, str]:
    """Parse every expression with promtool in one run; ``{index: error}`` for bad ones.

    Each expression becomes a recording rule in a throwaway rule file, so one promtool
    start checks them all.
    """
    if not exprs:
        return {}
    promtool = find(binary)
    rules = [{"record": _CHECK_RULE.format(i), "expr": e} for i, e in enumerate(exprs)]
    with tempfile.TemporaryDirectory(prefix="sre-promql-") as tmp:
        path = Path(tmp) / "promql.yaml"
        text = yaml.safe_dump({"groups": [{"name": "promql", "rules": rules}]}, width=10_000)
        path.write_text(text, encoding="utf-8")
        proc = _run([promtool, "check", "rules", "--lint=none", str(path)], timeout)
    if proc.returncode == 0:
        return {}
    errors: dict[int, str] = {}
    for line in (proc.stdout + "\n" + proc.stderr).splitlines():
        match = _CHECK_LINE.search(line)
        if match:
            message = match.group(2).removeprefix("could not parse expression: ")
            errors[int(match.group(1))] = message
    if not errors:
        raise ClientError(
            "bad_response",
            f"promtool exited {proc.returncode} without naming an expression: "
            f"{proc.stderr.strip()!r}",
            retryable=False,
        )
    return errors


def check_config(path: Path, *, binary: str = "promtool", timeout: float = 60.0) -> list[str]:
    """``promtool check config --syntax-only``: the configuration itself (its rule files
    are checked on their own, its discovery files are the operator's); empty = valid."""
    proc = _run([find(binary), "check", "config", "--syntax-only", str(path)], timeout)
    if proc.returncode == 0:
        return []
    found = [f.message for f in _findings(proc.stdout + "\n" + proc.stderr, [str(path)])]
    if not found:
        raise ClientError(
            "bad_response", f"promtool exited {proc.returncode} without saying why", retryable=False
        )
    return found
