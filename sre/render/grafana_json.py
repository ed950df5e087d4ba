"""grafanalib dashboards -> deterministic Grafana JSON.

``dashboard_text`` is what goes into ``build/dashboards/<uid>.json``: sorted keys, two-space
indent, a trailing newline, so rendering twice gives identical bytes. The checks on the
result live in ``sre.render.lint_dashboards``; this module only encodes.
"""

from __future__ import annotations

import json
from typing import Any

from grafanalib._gen import DashboardEncoder


def dashboard_json(dashboard: Any) -> dict[str, Any]:
    """A plain JSON-able dict: grafanalib objects encoded all the way down (its encoder)."""
    data: dict[str, Any] = json.loads(json.dumps(dashboard.to_json_data(), cls=DashboardEncoder))
    return data


def dashboard_text(dashboard: Any) -> str:
    return json.dumps(dashboard_json(dashboard), sort_keys=True, indent=2) + "\n"
