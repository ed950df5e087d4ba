"""The house rules of DESIGN.md section 4, checked on the source itself.

* The layout tells the truth: ``sre.runtime`` imports no feature and not the daemon;
  features never import each other or the daemon; clients import no layer above them;
  no two packages import each other (directly or round a longer cycle).
* The pure core decides: it never talks to the world or reads the clock.
* Small files: none over 400 lines.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRE = ROOT / "sre"
MAX_LINES = 400

# The pure core: decisions, rendering, formatting. No I/O, no clock.
PURE = [
    "render",
    "publish/plan.py",
    "checks",
    "promql.py",
    "catalog.py",
    "model.py",
    "features/alerts/model.py",
    "features/alerts/messages.py",
    "features/alerts/signature.py",
    "features/rollback/queries.py",
    "features/rollback/notices.py",
    "features/cost/notices.py",
    "features/backups/notices.py",
    "features/heartbeat/model.py",
    "features/heartbeat/notices.py",
    "features/deploys/model.py",
    "features/deploys/messages.py",
]
FORBIDDEN_MODULES = ("aiohttp", "boto3", "botocore", "slack_sdk", "subprocess", "sre.clients")
FORBIDDEN_CALLS = ("time.time", "time.monotonic", "datetime.now", "date.today")
# The CLI entry point is an edge: it may import the publisher and ClientError lazily.
EDGES = {"render/__main__.py"}


def python_files(*roots: Path) -> list[Path]:
    return sorted(p for root in roots for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def pure_files() -> list[Path]:
    out: list[Path] = []
    for entry in PURE:
        path = SRE / entry
        out += python_files(path) if path.is_dir() else [path]
    return [p for p in out if str(p.relative_to(SRE)) not in EDGES]


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


def package_of(module: str) -> str | None:
    """``sre.features.alerts.state`` -> ``features.alerts``; ``sre.promql`` -> ``promql``."""
    parts = module.split(".")
    if parts[0] != "sre" or len(parts) < 2:
        return None
    if parts[1] == "features" and len(parts) >= 3:
        return f"features.{parts[2]}"
    return parts[1]


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_graph() -> dict[str, set[str]]:
    """Which package imports which (lazy imports inside functions included)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in python_files(SRE):
        source = package_of(module_name(path))
        if source is None:
            continue
        for name in imported(ast.parse(path.read_text())):
            target = package_of(name)
            if target is not None and target != source:
                graph[source].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(set(graph) | {n for targets in graph.values() for n in targets}):
        if node not in index:
            visit(node)
    return found


def imports_of(package: str) -> Iterator[tuple[Path, str]]:
    for path in python_files(SRE / package.replace(".", "/")):
        for name in imported(ast.parse(path.read_text())):
            yield path, name


# --------------------------------------------------------------------------- layering


def test_no_import_cycle_between_packages() -> None:
    assert cycles(package_graph()) == []


def test_the_cycle_check_sees_a_cycle() -> None:
    graph = {"runtime": {"clients"}, "clients": {"features.alerts"}, "features.alerts": {"runtime"}}
    assert cycles(graph) == [["clients", "features.alerts", "runtime"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_runtime_imports_no_feature_and_not_the_daemon() -> None:
    bad = [
        (str(p.relative_to(ROOT)), n)
        for p, n in imports_of("runtime")
        if n.startswith(("sre.features", "sre.daemon"))
    ]
    assert bad == []


def test_features_import_no_other_feature_and_not_the_daemon() -> None:
    bad = []
    for feature in sorted(p.name for p in (SRE / "features").iterdir() if p.is_dir()):
        if feature.startswith("__"):
            continue
        for path, name in imports_of(f"features.{feature}"):
            other = package_of(name)
            if name.startswith("sre.daemon") or (
                other and other.startswith("features.") and other != f"features.{feature}"
            ):
                bad.append((str(path.relative_to(ROOT)), name))
    assert bad == []


def test_clients_import_nothing_above_them() -> None:
    above = ("sre.runtime", "sre.features", "sre.daemon", "sre.render")
    bad = [(str(p.relative_to(ROOT)), n) for p, n in imports_of("clients") if n.startswith(above)]
    assert bad == []


# --------------------------------------------------------------------------- the pure core


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


def test_the_check_sees_a_forbidden_import() -> None:
    tree = ast.parse("import subprocess\nfrom aiohttp import web\nx = time.time()\n")
    assert {"subprocess", "aiohttp"} <= imported(tree)
    assert "time.time" in called(tree)


# --------------------------------------------------------------------------- small files


def test_no_source_file_is_over_400_lines() -> None:
    roots = [SRE, ROOT / "rules", ROOT / "dashboards", ROOT / "benchmarks", ROOT / "tests"]
    long = {
        str(p.relative_to(ROOT)): n
        for p in python_files(*roots)
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
