"""Build the repository's content: ``dashboards.all_dashboards`` and ``rules.all_groups``.

Content is code other people write, so a failure in it becomes a :class:`Problem` naming
the module and line, not a traceback, and the rest of the render still runs.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from sre.config import Config
from sre.model import RuleGroup
from sre.render.problems import Problem

T = TypeVar("T")


@dataclass
class Content:
    dashboards: list[dict[str, Any]] = field(default_factory=list)  # Grafana JSON models
    texts: list[str] = field(default_factory=list)  # the same, as file text
    groups: list[RuleGroup] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _describe(err: BaseException) -> str:
    """``ValueError: bad thing (dashboards/overview.py:42)``: the innermost frame in our code."""
    frames = traceback.extract_tb(err.__traceback__)
    ours = [f for f in frames if "site-packages" not in f.filename] or frames
    where = f" ({_short(ours[-1].filename)}:{ours[-1].lineno})" if ours else ""
    return f"{type(err).__name__}: {err}{where}"


def _short(filename: str) -> str:
    path = Path(filename)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return filename


def _call(problems: list[Problem], where: str, fn: Callable[[], T]) -> T | None:
    try:
        return fn()
    except Exception as err:  # content code may raise anything; report it, keep going
        problems.append(Problem("content", where, f"failed: {_describe(err)}"))
        return None


def load(cfg: Config) -> Content:
    """Every dashboard (as JSON and text) and rule group the repository defines."""
    out = Content()
    found = _call(out.problems, "rules.all_groups(cfg)", lambda: _all_groups(cfg))
    for i, group in enumerate(found or []):
        if isinstance(group, RuleGroup):
            out.groups.append(group)
        else:
            out.problems.append(
                Problem("content", f"rules.all_groups(cfg)[{i}]", f"is a {type(group).__name__}")
            )
    boards = _call(out.problems, "dashboards.all_dashboards(cfg)", lambda: _all_dashboards(cfg))
    if boards:
        from sre.render.grafana_json import dashboard_json, dashboard_text  # needs grafanalib

        for i, board in enumerate(boards):
            where = f"dashboards.all_dashboards(cfg)[{i}] ({getattr(board, 'title', '?')})"
            data = _call(out.problems, where, partial(dashboard_json, board))
            text = _call(out.problems, where, partial(dashboard_text, board))
            if data is not None and text is not None:
                out.dashboards.append(data)
                out.texts.append(text)
    return out


def _all_groups(cfg: Config) -> list[Any]:
    import rules

    return list(rules.all_groups(cfg))


def _all_dashboards(cfg: Config) -> list[Any]:
    import dashboards

    return list(dashboards.all_dashboards(cfg))


def runbook_names(directory: Path) -> set[str]:
    """The ``*.md`` file names in ``runbooks/`` (empty if there is no such directory)."""
    if not directory.is_dir():
        return set()
    return {p.name for p in directory.glob("*.md") if p.is_file()}


def repository_root() -> Path:
    """Where ``rules/`` and ``runbooks/`` live: next to the ``rules`` package."""
    try:
        import rules
    except Exception:  # reported by load(); runbooks are then looked for in the cwd
        return Path.cwd()
    files = getattr(rules, "__file__", None)
    return Path(files).resolve().parent.parent if files else Path.cwd()
