"""Rule checks: every alert has the house shape, names follow the conventions, and every
recording rule or ``sre_*`` metric that a rule or dashboard mentions exists."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

from sre.catalog import DAEMON_METRICS
from sre.model import Alert, Rule, RuleGroup
from sre.render.dashboard_queries import dashboard_queries, metric_names
from sre.render.problems import Problem

SEVERITIES = ("critical", "warning", "info")
ALERT_NAME = re.compile(r"[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*")
RECORD_NAME = re.compile(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+")
# Series prometheus_client derives from one histogram / counter.
_SUFFIXES = {"histogram": ("_bucket", "_sum", "_count", "_created"), "counter": ("_created",)}


def rule_name(group: RuleGroup, rule: Rule) -> str:
    kind = "alert" if isinstance(rule, Alert) else "record"
    return f'rules/{group.file}.yaml group "{group.name}" {kind} {rule.name}'


def _rules(groups: Sequence[RuleGroup]) -> Iterator[tuple[RuleGroup, Rule]]:
    for group in groups:
        for rule in group.rules:
            yield group, rule


def check(
    groups: Sequence[RuleGroup], *, environment: str, runbooks: Collection[str]
) -> list[Problem]:
    problems: list[Problem] = []
    missing_runbooks: set[str] = set()
    for group, rule in _rules(groups):
        where = rule_name(group, rule)
        if isinstance(rule, Alert):
            problems += _check_alert(where, rule, environment)
            if not ALERT_NAME.fullmatch(rule.alert):
                problems.append(
                    Problem("naming", where, "alert names are CamelCase, e.g. ApiServiceDown")
                )
            runbook = f"{rule.alert}.md"
            if runbook not in runbooks and rule.alert not in missing_runbooks:
                missing_runbooks.add(rule.alert)
                problems.append(Problem("runbooks", where, f"runbooks/{runbook} is missing"))
        elif not RECORD_NAME.fullmatch(rule.record):
            problems.append(
                Problem(
                    "naming",
                    where,
                    "recording rules are named level:metric:operations "
                    "(e.g. service:http_requests:rate5m)",
                )
            )
    return problems


def _check_alert(where: str, alert: Alert, environment: str) -> list[Problem]:
    problems = []
    if alert.severity not in SEVERITIES:
        problems.append(
            Problem(
                "alerts",
                where,
                f"severity is {alert.severity!r}; must be one of {', '.join(SEVERITIES)}",
            )
        )
    for key in ("summary", "description", "runbook_url"):
        if not str(getattr(alert, key) or "").strip():
            problems.append(Problem("alerts", where, f"has no {key} annotation"))
    if "{{" in (alert.summary or ""):
        problems.append(
            Problem("alerts", where, "summary must be static text; templates go in description")
        )
    if alert.runbook_url and not alert.runbook_url.endswith(f"{alert.alert}.md"):
        problems.append(
            Problem(
                "alerts",
                where,
                f"runbook_url {alert.runbook_url!r} does not point at {alert.alert}.md",
            )
        )
    env = alert.labels.get("environment")
    if env is None:
        problems.append(Problem("alerts", where, "has no environment label"))
    elif env != environment:
        problems.append(
            Problem(
                "alerts",
                where,
                f"label environment={env!r}, but sre.yaml says environment: {environment}",
            )
        )
    return problems


def known_daemon_metric(name: str) -> bool:
    """``name`` is in the catalogue, or a series a catalogued histogram/counter exports."""
    if name in DAEMON_METRICS:
        return True
    for base, (kind, _, _) in DAEMON_METRICS.items():
        if name.startswith(base) and name[len(base) :] in _SUFFIXES.get(kind, ()):
            return True
    return False


def _check_names(where: str, names: set[str], defined: set[str]) -> list[Problem]:
    problems = []
    for name in sorted(names):
        if ":" in name and name not in defined:
            problems.append(
                Problem(
                    "recording-rules", where, f"uses recording rule {name}, which no group defines"
                )
            )
        elif name.startswith("sre_") and not known_daemon_metric(name):
            problems.append(
                Problem(
                    "naming",
                    where,
                    f"uses {name}, which is not a daemon metric (sre.catalog.DAEMON_METRICS)",
                )
            )
    return problems


def check_references(
    groups: Sequence[RuleGroup], dashboards: Sequence[Mapping[str, Any]]
) -> list[Problem]:
    """Every recording rule and ``sre_*`` metric used by a rule or a dashboard exists."""
    defined = {record.record for group in groups for record in group.records}
    problems: list[Problem] = []
    for group, rule in _rules(groups):
        problems += _check_names(rule_name(group, rule), metric_names(rule.expr), defined)
    for dashboard in dashboards:
        for query in dashboard_queries(dashboard):
            problems += _check_names(query.where, metric_names(query.promql), defined)
    return problems
