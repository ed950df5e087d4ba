"""Helpers every rule module shares: selectors, numbers, and the one shape of an alert.

An alert always gets ``runbook_url`` (``runbooks.base_url`` + ``<AlertName>.md``), the
``environment`` label and, when Grafana is configured and a dashboard shows it, a
``dashboard_url``. Rule modules never spell a selector: they pass ``cfg.selectors.*``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from sre.catalog import dashboard_uid
from sre.config import Config
from sre.durations import Duration
from sre.model import Alert, Severity

_REGEX_META = set(".+*?()[]{}|^$\\")

# Below this many requests/s an error ratio is noise; used where a service has no
# ``rollback.min_request_rate`` (the same default as sre.config.Rollback).
DEFAULT_MIN_REQUEST_RATE = 0.1
DEFAULT_FOR = Duration.of(minutes=2)
DEFAULT_ERROR_RATIO = 0.05


def sel(*matchers: str) -> str:
    """Join label matchers into ``{a, b}``; empty matchers (an unset selector) drop out."""
    parts = [m.strip() for m in matchers if m and m.strip()]
    return "{" + ", ".join(parts) + "}" if parts else ""


def one_of(label: str, values: Iterable[str]) -> str:
    """``label="x"`` for one value, ``label=~"x|y"`` for several (sorted, regex-escaped)."""
    names = sorted(set(values))
    if not names:
        raise ValueError(f"no values for label {label!r}")
    if len(names) == 1:
        return f'{label}="{names[0]}"'
    escaped = ["".join(f"\\\\{c}" if c in _REGEX_META else c for c in n) for n in names]
    return f'{label}=~"{"|".join(escaped)}"'


def num(value: float | int | Decimal) -> str:
    """A number as PromQL text, exactly: 0.05 -> ``0.05``, 600.0 -> ``600``, no float noise."""
    dec = value if isinstance(value, Decimal) else Decimal(repr(value))
    return format(dec.normalize(), "f")


def seconds(duration: Duration) -> str:
    return num(Decimal(duration.milliseconds) / 1000)


@dataclass(frozen=True)
class AlertFactory:
    """Builds alerts from one config so every alert has the same shape."""

    cfg: Config

    def runbook_url(self, name: str) -> str:
        base = self.cfg.runbooks.base_url
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
