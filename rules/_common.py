"""What every rule module shares: the one shape of an alert, and the default thresholds.

An alert always gets ``runbook_url`` (``runbooks.base_url`` + ``<AlertName>.md``), the
``environment`` label and, when Grafana is configured and a dashboard shows it, a
``dashboard_url``. Rule modules never spell a selector: they pass ``cfg.selectors.*`` to
``sre.promql``, where all PromQL building blocks live.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sre.catalog import dashboard_uid
from sre.config import Config
from sre.config.durations import Duration
from sre.model import Alert, Severity

# Below this many requests/s an error ratio is noise; used where a service has no
# ``rollback.min_request_rate`` (the same default as sre.config.Rollback).
DEFAULT_MIN_REQUEST_RATE = 0.1
DEFAULT_FOR = Duration.of(minutes=2)
DEFAULT_ERROR_RATIO = 0.05


@dataclass(frozen=True)
class AlertFactory:
    """Builds alerts from one config so every alert has the same shape."""

    cfg: Config

    def runbook_url(self, name: str) -> str:
        base = self.cfg.needs_runbooks().base_url
        return f"{base}{'' if base.endswith('/') else '/'}{name}.md"

    def dashboard_url(self, slug: str | None) -> str | None:
        grafana = self.cfg.grafana
        if grafana is None or slug is None:
            return None
        root = (grafana.public_url or grafana.url).rstrip("/")
        return f"{root}/d/{dashboard_uid(self.cfg.system, slug)}"

    def __call__(
        self,
        name: str,
        expr: str,
        *,
        severity: Severity,
        summary: str,
        description: str,
        for_: Duration | None = None,
        dashboard: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Alert:
        return Alert(
            alert=name,
            expr=expr,
            severity=severity,
            summary=summary,
            description=description,
            runbook_url=self.runbook_url(name),
            for_=for_,
            dashboard_url=self.dashboard_url(dashboard),
            labels={**(labels or {}), "environment": self.cfg.environment},
        )
