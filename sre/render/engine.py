"""Config + dashboards + rule groups -> every file of ``build/`` and every lint problem.

Pure: no file is read or written here. :func:`render` returns the file texts by path
(relative to the output directory) so the writer, the tests and the benchmark share it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sre.config import Config
from sre.model import RuleGroup
from sre.render import alertmanager, kubernetes, scrape
from sre.render.dashboard_queries import Query, dashboard_queries, iter_panels
from sre.render.lint import lint
from sre.render.problems import Problem
from sre.render.rulefiles import dump_yaml, rule_files

_SAFE_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass
class Rendered:
    files: dict[str, str] = field(default_factory=dict)  # "dashboards/x.json" -> text
    problems: list[Problem] = field(default_factory=list)
    queries: list[Query] = field(default_factory=list)  # dashboard PromQL, for promtool
    route_cases: list[alertmanager.RouteCase] = field(default_factory=list)  # for amtool
    counts: dict[str, int] = field(default_factory=dict)

    def paths(self, prefix: str) -> list[str]:
        return sorted(p for p in self.files if p.startswith(prefix))


def json_text(dashboard: Mapping[str, Any]) -> str:
    """The house JSON form: sorted keys, two-space indent, trailing newline."""
    return json.dumps(dashboard, sort_keys=True, indent=2) + "\n"


def render(
    cfg: Config,
    dashboards: Sequence[Mapping[str, Any]],
    groups: Sequence[RuleGroup],
    *,
    runbooks: Collection[str],
    texts: Sequence[str] | None = None,
    datasource_uid: str | None = None,
) -> Rendered:
    """Render and lint everything except what needs promtool.

    ``dashboards`` are Grafana JSON models; ``texts`` their file contents if the caller
    has them already (``grafana_json.dashboard_text``), else :func:`json_text` is used.
    ``datasource_uid``, if given, is the one datasource panels may name.
    """
    out = Rendered()
    if texts is None:
        texts = [json_text(d) for d in dashboards]
    by_uid: dict[str, str] = {}
    for i, (dashboard, text) in enumerate(zip(dashboards, texts, strict=True)):
        uid = str(dashboard.get("uid") or f"untitled-{i + 1}")
        if not _SAFE_FILE.fullmatch(uid):
            out.problems.append(
                Problem("dashboards", f"dashboard {uid!r}", "uid must be letters, digits, . _ -")
            )
            uid = re.sub(r"[^A-Za-z0-9._-]", "_", uid).lstrip("._-") or f"untitled-{i + 1}"
        by_uid[uid] = text
        out.files[f"dashboards/{uid}.json"] = text
        out.queries += dashboard_queries(dashboard)
    for name, text in rule_files(groups).items():
        if not _SAFE_FILE.fullmatch(name):
            out.problems.append(
                Problem("kubernetes", f"rules/{name}", "rule file names are letters, digits, -")
            )
        out.files[f"rules/{name}"] = text
    alerts = {a.alert for g in groups for a in g.alerts}
    routing(cfg, alerts, out)
    out.files["prometheus/prometheus.yaml"] = dump_yaml(scrape.prometheus_config(cfg))
    out.problems += scrape.selector_problems(cfg)
    k8s = kubernetes.render(cfg, groups, by_uid)
    out.files.update({f"kubernetes/{name}": text for name, text in k8s.files.items()})
    out.problems += k8s.problems
    out.problems += lint(
        dashboards,
        groups,
        environment=cfg.environment,
        runbooks=runbooks,
        datasource_uid=datasource_uid,
    )
    out.counts = {
        "dashboards": len(dashboards),
        "panels": sum(1 for d in dashboards for _ in iter_panels(d)),
        "queries": len(out.queries),
        "groups": len(groups),
        "alerts": sum(len(g.alerts) for g in groups),
        "records": sum(len(g.records) for g in groups),
    }
    return out


def routing(cfg: Config, alerts: set[str], out: Rendered) -> None:
    """``build/alertmanager/alertmanager.yaml`` and its route cases, when sre.yaml routes."""
    if cfg.alertmanager is None or cfg.alertmanager.route is None:
        return
    data = alertmanager.config(cfg, alerts)
    out.files["alertmanager/alertmanager.yaml"] = dump_yaml(data)
    cases, problems = alertmanager.route_cases(cfg, data["route"])
    out.route_cases = cases
    out.problems += problems + alertmanager.alertname_problems(cfg, alerts)
