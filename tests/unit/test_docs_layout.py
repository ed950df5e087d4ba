"""The layout tree in docs/development.md is the repository's: every package under sre/ is
named, and every name in the tree exists."""

from __future__ import annotations

import re
from pathlib import Path

from tests.helpers.docs import ROOT, split

PAGE = ROOT / "docs" / "development.md"


def tree_paths(text: str) -> list[str]:
    """Paths of a tree written as indented names (two spaces a level, directories end in
    ``/``), each followed by two spaces and a description."""
    paths: list[str] = []
    parents: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        assert indent % 2 == 0, f"odd indentation: {line!r}"
        level = indent // 2
        assert level <= len(parents), f"skips a level: {line!r}"
        entry = re.split(r"\s{2,}", line.strip())[0]
        del parents[level:]
        paths.append("".join(parents) + entry)
        if entry.endswith("/"):
            parents.append(entry)
    return paths


def layout() -> list[str]:
    blocks, _ = split(PAGE)
    section = PAGE.read_text(encoding="utf-8").split("\n## Layout\n")[1].split("\n## ")[0]
    tree = next(b for b in blocks if b.lang == "text" and b.body in section)
    return tree_paths(tree.body)


def packages(root: Path) -> set[str]:
    """Every directory of Python code under ``root`` (namespace packages too)."""
    return {
        str(p.relative_to(root.parent)) + "/"
        for p in [root, *root.rglob("*")]
        if p.is_dir() and "__pycache__" not in p.parts and any(p.rglob("*.py"))
    }


def test_every_name_in_the_tree_exists() -> None:
    assert [p for p in layout() if not (ROOT / p).exists()] == []


def test_every_package_under_sre_is_in_the_tree() -> None:
    named = set(layout())
    assert sorted(packages(ROOT / "sre") - named) == []
    assert "sre/features/alerts/" in named and "sre/runtime/store/" in named


def test_the_tree_reader_nests_and_the_checks_see_a_difference(tmp_path: Path) -> None:
    tree = "sre/  engine\n  config/  x\n    loader.py  y\n  promql.py  z\ntests/\n"
    assert tree_paths(tree) == [
        "sre/",
        "sre/config/",
        "sre/config/loader.py",
        "sre/promql.py",
        "tests/",
    ]
    (tmp_path / "sre" / "jobs" / "alerts").mkdir(parents=True)
    (tmp_path / "sre" / "jobs" / "alerts" / "feature.py").write_text("")
    (tmp_path / "sre" / "empty").mkdir()
    assert packages(tmp_path / "sre") == {"sre/", "sre/jobs/", "sre/jobs/alerts/"}
