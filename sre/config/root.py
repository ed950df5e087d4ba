"""The whole of ``sre.yaml`` (DESIGN.md section 3): every section, and the rules that span
several sections (names used twice, a probe key given twice, a rollback window shorter
than its rate window). Keys are a contract with tests outside this repository: add, never
rename.
"""

from __future__ import annotations

from dataclasses import dataclass

from sre.config.alerting import AlertmanagerConfig
from sre.config.connections import (
    GrafanaConfig,
    KubernetesConfig,
    PrometheusConfig,
    RunbooksConfig,
    Selectors,
)
from sre.config.daemon import DaemonConfig
from sre.config.durations import Duration
from sre.config.integrations import AwsConfig, Backup, CostConfig, DeploysConfig, SlackConfig
from sre.config.loader import key
from sre.config.services import Datastore, Probe, Queue, Rollback, Service, Thresholds
from sre.config.validators import (
    dns_name,
    non_empty,
)


class MissingSection(ValueError):
    """A section the caller needs is absent from the config (the message names it)."""

    def __init__(self, section: str) -> None:
        super().__init__(f"{section}: missing required section (python -m sre.render needs it)")


@dataclass(frozen=True)
class Config:
    system: str = key("short name used in titles, uids and group names", check=dns_name)
    prometheus: PrometheusConfig | None = key(
        "the Prometheus the rules, dashboards and rollback triggers use; required by "
        "`python -m sre.render`; unset: the daemon runs without auto-rollback",
        None,
    )
    runbooks: RunbooksConfig | None = key(
        "where every alert's runbook link points; required by `python -m sre.render`", None
    )
    environment: str = key("added as the `environment` label to every alert", "production")
    alertmanager: AlertmanagerConfig | None = key(
        "silences from Slack and reconcile; unset: both off", None
    )
    grafana: GrafanaConfig | None = key("publishing dashboards, and alert links; unset: off", None)
    kubernetes: KubernetesConfig = key(
        "what the objects in `build/kubernetes/` look like", factory=KubernetesConfig
    )
    selectors: Selectors = key("PromQL label matchers per exporter", factory=Selectors)
    thresholds: Thresholds = key("site-wide alert thresholds", factory=Thresholds)
    services: tuple[Service, ...] = key("the platform's services", (), check=non_empty)
    datastores: tuple[Datastore, ...] = key("PostgreSQL and Redis instances", ())
    queues: tuple[Queue, ...] = key("task queues (Redis) the agent workers read", ())
    probes: tuple[Probe, ...] = key(
        "probe targets besides each service's `health` (databases, dependencies)", ()
    )
    daemon: DaemonConfig = key("the SRE daemon", factory=DaemonConfig)
    slack: SlackConfig | None = key("Slack; unset: messages go to the daemon's log", None)
    deploys: DeploysConfig | None = key(
        "deploy threads in Slack for every new revision the rollback feature sees; unset: off",
        None,
    )
    aws: AwsConfig | None = key("AWS (cost, backups); unset: those features are off", None)
    cost: CostConfig | None = key("AWS cost analysis; unset: off", None)
    backups: tuple[Backup, ...] = key("backups to verify", ())

    def _problems(self) -> list[tuple[str, str]]:
        problems = []
        named: tuple[tuple[str, tuple[Service | Datastore | Queue | Probe | Backup, ...]], ...] = (
            ("services", self.services),
            ("datastores", self.datastores),
            ("queues", self.queues),
            ("probes", self.probes),
            ("backups", self.backups),
        )
        for section, items in named:
            seen: set[str] = set()
            for i, item in enumerate(items):
                name = getattr(item, "name", None)
                if not isinstance(name, str):  # an item with its own problems
                    continue
                if name in seen:
                    problems.append((f"{section}[{i}].name", f"{name!r} is used twice"))
                seen.add(name)
        for i, probe in enumerate(self.probes):
            if not probe.name:
                problems.append((f"probes[{i}].name", "missing required key"))
        problems += self._probe_key_problems()
        problems += self._datastore_selector_problems()
        problems += self._rollback_window_problems()
        if self.cost is not None and self.aws is None:
            problems.append(("cost", "needs an aws section (region, endpoint_url)"))
        if self.backups and self.aws is None:
            problems.append(("backups", "needs an aws section (region, endpoint_url)"))
        if self.prometheus is None:
            for i, svc in enumerate(self.services):
                if getattr(svc, "rollback", None) is not None:
                    problems.append(
                        (
                            f"services[{i}].rollback",
                            "needs a prometheus section (its triggers query Prometheus)",
                        )
                    )
        return problems

    def _probe_key_problems(self) -> list[tuple[str, str]]:
        """(service, target) names one probe: its metrics and the rollback trigger's state."""
        seen = {
            (s.health.service or s.name, s.health.name or "health")
            for s in self.services
            if isinstance(s, Service) and isinstance(s.health, Probe)
        }
        problems = []
        for i, probe in enumerate(self.probes):
            if not isinstance(probe, Probe) or not probe.name:
                continue
            probe_key = (probe.service or probe.name, probe.name)
            if probe_key in seen:
                problems.append(
                    (
                        f"probes[{i}].name",
                        f"service {probe_key[0]!r} already has a probe named {probe_key[1]!r}",
                    )
                )
            seen.add(probe_key)
        return problems

    def _datastore_selector_problems(self) -> list[tuple[str, str]]:
        """Two datastores of one kind must be told apart, or both match every series."""
        problems = []
        for i, store in enumerate(self.datastores):
            if not isinstance(store, Datastore):
                continue
            same_kind = [d for d in self.datastores if getattr(d, "kind", None) == store.kind]
            if len(same_kind) > 1 and not store.selector:
                problems.append(
                    (
                        f"datastores[{i}].selector",
                        f"required when several datastores are of kind {store.kind!r} "
                        "(e.g. 'instance=~\"pg-main.*\"')",
                    )
                )
        return problems

    def _rollback_window_problems(self) -> list[tuple[str, str]]:
        """A rollback trigger's ``for`` must be longer than the rate() window in its
        queries, or one rate sample alone would span the whole window."""
        engine = getattr(self.daemon, "rollbacks", None)
        rate_window = getattr(engine, "rate_window", None)
        if not isinstance(rate_window, Duration):
            return []
        problems = []
        for i, svc in enumerate(self.services):
            rb = getattr(svc, "rollback", None)
            if isinstance(rb, Rollback) and rb.for_.seconds <= rate_window.seconds:
                problems.append(
                    (
                        f"services[{i}].rollback.for",
                        f"{rb.for_} must be longer than daemon.rollbacks.rate_window "
                        f"({rate_window})",
                    )
                )
        return problems

    def for_rendering(self) -> list[str]:
        """The sections ``python -m sre.render`` needs that this config lacks."""
        return [name for name in ("prometheus", "runbooks") if getattr(self, name) is None]

    def needs_prometheus(self) -> PrometheusConfig:
        """The prometheus section, for code that cannot do without it (rendering)."""
        if self.prometheus is None:
            raise MissingSection("prometheus")
        return self.prometheus

    def needs_runbooks(self) -> RunbooksConfig:
        if self.runbooks is None:
            raise MissingSection("runbooks")
        return self.runbooks

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    def all_probes(self) -> list[Probe]:
        """Every health target: each service's ``health`` plus the top-level ``probes``."""
        from dataclasses import replace

        found = [
            replace(s.health, name=s.health.name or "health", service=s.health.service or s.name)
            for s in self.services
            if s.health is not None
        ]
        found += [replace(p, service=p.service or p.name) for p in self.probes]
        return found
