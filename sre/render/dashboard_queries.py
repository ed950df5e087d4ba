"""Dashboard PromQL as the render lint sees it: where panels keep it, Grafana variables, names.

Pure text handling, no parser: the real parse is promtool's job (``sre.clients.promtool``).
What lives here is only what promtool cannot know about: Grafana's ``$variables``, its
``label_values(...)`` variable queries, and which metric names an expression mentions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# Grafana's three spellings: $name, ${name} / ${name:format}, [[name]] / [[name:format]].
_VAR = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")

# Grafana's global variables, with a value that keeps the expression valid PromQL.
BUILTINS = {
    "__rate_interval": "1m",
    "__interval": "1m",
    "__auto": "1m",
    "__interval_ms": "60000",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
    "__dashboard": "dashboard",
    "__name": "name",
    "__org": "1",
    "__user": "user",
}

# Words that look like metric names to a tokenizer but are PromQL syntax.
_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or"}
    | {"unless", "offset", "inf", "nan", "start", "end", "atan2"}
)
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_NAME = re.compile(r"(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*")


@dataclass(frozen=True)
class Query:
    """One PromQL expression found in a dashboard, and where (for error messages)."""

    where: str
    expr: str  # as written in the dashboard
    promql: str  # Grafana variables substituted: what promtool checks


def _variable_values(dashboard: Mapping[str, Any]) -> dict[str, str]:
    """A stand-in value per dashboard variable, used outside quotes and range brackets."""
    values: dict[str, str] = {}
    for var in _templating(dashboard):
        name = var.get("name")
        if not isinstance(name, str):
            continue
        if var.get("type") == "interval":
            values[name] = "1m"
            continue
        current = var.get("current") or {}
        value = current.get("value") if isinstance(current, Mapping) else None
        if isinstance(value, list):
            value = value[0] if value else None
        ok = isinstance(value, str) and value and not value.startswith("$")
        values[name] = str(value) if ok else "1"
    return values


def substitute(expr: str, variables: Mapping[str, str]) -> str:
    """Replace Grafana variables with values that keep ``expr`` valid PromQL.

    Inside a string literal any text will do; inside ``[...]`` it must be a duration;
    elsewhere the variable's current value (or ``1``) stands in. Names Grafana would not
    know are left alone, so a typo still fails the parse.
    """
    out: list[str] = []
    quote: str | None = None
    square = 0
    i = 0
    while i < len(expr):
        match = _VAR.match(expr, i)
        if match:
            name = match.group(1) or match.group(2) or match.group(3)
            if name in BUILTINS:
                out.append(BUILTINS[name])
            elif name in variables:
                if quote is not None:
                    out.append("value")
                elif square:
                    out.append("1m")
                else:
                    out.append(variables[name])
            else:
                out.append(match.group(0))
            i = match.end()
            continue
        char = expr[i]
        if quote is not None:
            if char == "\\" and quote != "`":
                out.append(expr[i : i + 2])
                i += 2
                continue
            if char == quote:
                quote = None
        elif char in "\"'`":
            quote = char
        elif char == "[":
            square += 1
        elif char == "]":
            square = max(0, square - 1)
        out.append(char)
        i += 1
    return "".join(out)


def _split_args(inner: str) -> list[str]:
    """Split a function's argument text on top-level commas (not inside quotes/brackets)."""
    args: list[str] = []
    depth = 0
    quote: str | None = None
    start = 0
    for i, char in enumerate(inner):
        if quote is not None:
            if char == quote and inner[i - 1] != "\\":
                quote = None
        elif char in "\"'`":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            args.append(inner[start:i].strip())
            start = i + 1
    args.append(inner[start:].strip())
    return args


def variable_promql(query: str) -> str | None:
    """The PromQL inside a Prometheus template-variable query, or ``None`` if it has none.

    ``label_values(up{job="x"}, instance)`` -> ``up{job="x"}``; ``label_values(job)``,
    ``label_names()`` and ``metrics(...)`` hold no expression; ``query_result(e)`` -> ``e``.
    """
    text = query.strip()
    match = re.fullmatch(r"(\w+)\s*\((.*)\)", text, flags=re.DOTALL)
    if match is None:
        return text or None
    func, inner = match.group(1), match.group(2)
    if func == "label_values":
        args = _split_args(inner)
        return args[0] if len(args) == 2 and args[0] else None
    if func == "query_result":
        return inner.strip() or None
    if func in ("label_names", "metrics"):
        return None
    return text


def _templating(dashboard: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    templating = dashboard.get("templating") or {}
    found = templating.get("list") if isinstance(templating, Mapping) else None
    return [v for v in found or [] if isinstance(v, Mapping)]


def iter_panels(dashboard: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], bool]]:
    """Every panel, rows' nested panels included; the flag says "inside a collapsed row"."""
    for panel in dashboard.get("panels") or []:
        if not isinstance(panel, Mapping):
            continue
        yield panel, False
        for child in panel.get("panels") or []:
            if isinstance(child, Mapping):
                yield child, True


def dashboard_name(dashboard: Mapping[str, Any]) -> str:
    return f"dashboard {dashboard.get('uid') or dashboard.get('title') or '?'}"


def panel_name(dashboard: Mapping[str, Any], panel: Mapping[str, Any]) -> str:
    title = panel.get("title") or ""
    return f'{dashboard_name(dashboard)} panel {panel.get("id", "?")} "{title}"'


def annotation_queries(dashboard: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The dashboard's annotation queries (``annotations.list``)."""
    block = dashboard.get("annotations")
    found = block.get("list") if isinstance(block, Mapping) else None
    return [a for a in found or [] if isinstance(a, Mapping)]


def dashboard_queries(dashboard: Mapping[str, Any]) -> list[Query]:
    """Every PromQL expression in a dashboard: panel targets, query variables and
    Prometheus annotation queries."""
    variables = _variable_values(dashboard)
    found: list[Query] = []
    for panel, _ in iter_panels(dashboard):
        for target in panel.get("targets") or []:
            expr = target.get("expr") if isinstance(target, Mapping) else None
            if isinstance(expr, str) and expr.strip():
                where = f"{panel_name(dashboard, panel)} target {target.get('refId', '?')}"
                found.append(Query(where, expr, substitute(expr, variables)))
    for var in _templating(dashboard):
        if var.get("type", "query") != "query":
            continue
        query = var.get("query")
        if isinstance(query, Mapping):
            query = query.get("query")
        if not isinstance(query, str):
            continue
        promql = variable_promql(query)
        if promql:
            where = f"{dashboard_name(dashboard)} variable ${var.get('name', '?')}"
            found.append(Query(where, query, substitute(promql, variables)))
    for annotation in annotation_queries(dashboard):
        expr = annotation.get("expr")
        if isinstance(expr, str) and expr.strip():
            where = f"{dashboard_name(dashboard)} annotation {annotation.get('name', '?')!r}"
            found.append(Query(where, expr, substitute(expr, variables)))
    return found


def _strip(expr: str) -> str:
    """Blank out what cannot hold a metric name: strings, comments, matchers, ranges."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    expr = re.sub(r"#[^\n]*", " ", expr)
    expr = re.sub(r"\{[^{}]*\}", " ", expr)
    expr = re.sub(r"\[[^\[\]]*\]", " ", expr)
    # Label lists of by/without/on/ignoring/group_x hold label names, not metrics.
    return _GROUPING.sub(lambda m: m.group(1) + " ", expr)


def metric_names(expr: str) -> set[str]:
    """Names of the series an expression selects (metrics and recording rules)."""
    text = _strip(expr)
    names: set[str] = set()
    for match in _NAME.finditer(text):
        name = match.group(0)
        rest = text[match.end() :].lstrip()
        # ``sum by (x) (...)``: the grouping clause sits between the aggregator and "(".
        if name in _KEYWORDS or rest.startswith("(") or re.match(r"(by|without)\b", rest):
            continue
        names.add(name)
    return names
