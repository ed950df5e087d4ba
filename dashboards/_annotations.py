"""Events on the dashboards: deploys, rollbacks and silences.

Two sources, so a Grafana the daemon may not write to still shows rollbacks:

* Grafana annotations the daemon posts (``POST /api/annotations``), tagged with their kind
  (``deploy``, ``rollback``, ``silence``) and the service: one query by tags per kind. With
  a ``$service`` variable the service is a tag too; Grafana requires every tag of a query
  (``matchAny: false``), so these show for the one selected service.
* A Prometheus query on the daemon's ``sre_rollbacks_total``: a mark wherever the counter
  increased, needing nothing but the datasource.
"""

from __future__ import annotations

from typing import Any

from dashboards import _panels as P
from sre import promql
from sre.config import Config

# The built-in datasource that serves annotations stored in Grafana itself.
GRAFANA = {"type": "grafana", "uid": "-- Grafana --"}
KINDS = (
    ("deploy", "Deploys", "blue"),
    ("rollback", "Rollbacks", "red"),
    ("silence", "Silences", "purple"),
)
ROLLBACKS = "sre_rollbacks_total"


def by_tags(tags: list[str], name: str, colour: str) -> dict[str, Any]:
    return {
        "datasource": GRAFANA,
        "enable": True,
        "hide": False,
        "iconColor": colour,
        "name": name,
        "target": {"type": "tags", "tags": tags, "matchAny": False, "limit": 100},
    }


def rollback_counter(cfg: Config, service: str | None) -> dict[str, Any]:
    """A mark for every step in which ``sre_rollbacks_total`` increased."""
    only = f'service=~"${service}"' if service else ""
    counter = promql.metric(ROLLBACKS, cfg.selectors.daemon, only)
    return {
        "datasource": P.datasource(cfg),
        "enable": True,
        "hide": False,
        "iconColor": "orange",
        "name": "Rollbacks (sre_rollbacks_total)",
        "expr": f"sum by (service, trigger, result) (increase({counter}[$__rate_interval])) > 0",
        "step": "1m",
        "titleFormat": "Rollback of {{service}}",
        "textFormat": "trigger {{trigger}}, result {{result}}",
        "tagKeys": "service,trigger,result",
        "useValueForTime": False,
    }


def events(cfg: Config, *, service: str | None = None, by_tag: bool = True) -> list[dict[str, Any]]:
    """Deploy, rollback and silence annotations; ``service`` names the dashboard variable
    that filters them (none: every service's events). ``by_tag=False`` filters only the
    Prometheus query (a regex, so any selection works), not the tag queries: for a
    dashboard whose ``$service`` is "All" by default."""
    extra = [f"${service}"] if service and by_tag else []
    out = [by_tags([kind, *extra], name, colour) for kind, name, colour in KINDS]
    out.append(rollback_counter(cfg, service))
    return out
