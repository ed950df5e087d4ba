"""The house rules of DESIGN.md section 4, checked: a pure core with I/O at the edges."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRE = Path(__file__).resolve().parents[2] / "sre"
# The pure core decides; it never talks to the world or reads the clock.
PURE = ("render", "checks", "notify")
FORBIDDEN_MODULES = ("aiohttp", "boto3", "botocore", "slack_sdk", "subprocess", "sre.clients")
FORBIDDEN_CALLS = ("time.time", "time.monotonic", "datetime.now", "date.today")
# The CLI entry point is an edge: it may import the publisher and ClientError lazily.
EDGES = {"render/__main__.py"}


def pure_files() -> list[Path]:
    return [
        path
        for package in PURE
        for path in sorted((SRE / package).glob("*.py"))
        if str(path.relative_to(SRE)) not in EDGES
    ]


def imported(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def called(tree: ast.AST) -> set[str]:
    calls: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            base = node.func.value
            if isinstance(base, ast.Name):
                calls.add(f"{base.id}.{node.func.attr}")
    return calls


@pytest.mark.parametrize("path", pure_files(), ids=lambda p: str(p.relative_to(SRE)))
def test_pure_core_does_no_io_and_reads_no_clock(path: Path) -> None:
    tree = ast.parse(path.read_text())
    bad_imports = sorted(
        name
        for name in imported(tree)
        if any(name == m or name.startswith(m + ".") for m in FORBIDDEN_MODULES)
    )
    assert bad_imports == []
    assert sorted(called(tree) & set(FORBIDDEN_CALLS)) == []


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    tree = ast.parse("import subprocess\nfrom aiohttp import web\nx = time.time()\n")
    assert {"subprocess", "aiohttp"} <= imported(tree)
    assert "time.time" in called(tree)
