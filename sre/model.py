"""The rule model: pure data with ``to_dict()`` in Prometheus rule-file shape.

Rule modules in ``rules/`` build these; ``sre.render`` turns them into files and lints them.
Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sre.config.durations import Duration

Severity = Literal["critical", "warning", "info"]


@dataclass(frozen=True)
class Record:
    """A recording rule, named ``level:metric:operations``."""

    record: str
    expr: str
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.record

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"record": self.record, "expr": self.expr}
        if self.labels:
            out["labels"] = dict(sorted(self.labels.items()))
        return out


@dataclass(frozen=True)
class Alert:
    """An alerting rule. Every alert has the same shape (DESIGN.md section 4).

    ``summary`` is static text; ``description`` may use ``{{ $labels.x }}`` and
    ``{{ $value }}``. ``runbook_url`` and ``dashboard_url`` are filled in by the rule
    module from the config, so every alert points at ``runbooks/<AlertName>.md``.
    """

    alert: str
    expr: str
    severity: Severity
    summary: str
    description: str
    runbook_url: str
    for_: Duration | None = None
    dashboard_url: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    keep_firing_for: Duration | None = None

    @property
    def name(self) -> str:
        return self.alert

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"alert": self.alert, "expr": self.expr}
        if self.for_ is not None and self.for_.milliseconds:
            out["for"] = str(self.for_)
        if self.keep_firing_for is not None:
            out["keep_firing_for"] = str(self.keep_firing_for)
        out["labels"] = dict(sorted({**self.labels, "severity": self.severity}.items()))
        annotations = {
            "summary": self.summary,
            "description": self.description,
            "runbook_url": self.runbook_url,
        }
        if self.dashboard_url:
            annotations["dashboard_url"] = self.dashboard_url
        out["annotations"] = dict(sorted(annotations.items()))
        return out


Rule = Record | Alert


@dataclass(frozen=True)
class RuleGroup:
    """One Prometheus rule group. ``file`` names the ``build/rules/<file>.yaml`` it lands in."""

    name: str
    file: str
    rules: tuple[Rule, ...]
    interval: Duration | None = None

    @property
    def alerts(self) -> tuple[Alert, ...]:
        return tuple(r for r in self.rules if isinstance(r, Alert))

    @property
    def records(self) -> tuple[Record, ...]:
        return tuple(r for r in self.rules if isinstance(r, Record))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.interval is not None:
            out["interval"] = str(self.interval)
        out["rules"] = [r.to_dict() for r in self.rules]
        return out
