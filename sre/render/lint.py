"""The render checks: pure functions over dashboard JSON and rule groups -> problems.

Every check has a short id (the first column of the summary table). A check never stops at
its first finding: the user sees every problem of every check in one run.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sre.model import RuleGroup
from sre.render import lint_dashboards, lint_rules
from sre.render.problems import CHECKS, PROMTOOL_CHECKS, Problem

__all__ = ["CHECKS", "PROMTOOL_CHECKS", "Problem", "lint"]


def lint(
    dashboards: Sequence[Mapping[str, Any]],
    groups: Sequence[RuleGroup],
    *,
    environment: str,
    runbooks: Collection[str],
    datasource_uid: str | None = None,
) -> list[Problem]:
    """Every offline check except promtool's.

    ``dashboards`` are Grafana JSON models; ``runbooks`` the file names in ``runbooks/``
    (``HighErrorRate.md`` ...), passed in so this stays free of I/O. ``datasource_uid``,
    if given, is the only datasource uid panels may use (a ``${variable}`` is allowed too).
    """
    problems = lint_dashboards.check(dashboards, datasource_uid=datasource_uid)
    problems += lint_rules.check(groups, environment=environment, runbooks=runbooks)
    problems += lint_rules.check_references(groups, dashboards)
    return problems
