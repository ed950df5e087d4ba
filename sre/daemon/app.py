"""The one place that wires real objects: clients and features, from the config.

:func:`build_features` constructs every feature with exactly what it uses, in order, and
is the map of the daemon: read it to see which feature talks to which client. Shared
runtime objects come in as :class:`Parts` (built by ``sre.daemon.process.Daemon``, again
on every reload); no feature ever sees ``Parts``. A test passes its own builder
(``Daemon(..., features=...)``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import aiohttp
from prometheus_client import CollectorRegistry, Counter

from sre.clients import ClientError
from sre.clients.alertmanager import AlertmanagerClient
from sre.clients.aws import AwsClient
from sre.clients.grafana import GrafanaClient
from sre.clients.helm import Helm
from sre.clients.kube import Kubectl
from sre.clients.prometheus import PrometheusClient
from sre.clients.slack import ConsoleSink
from sre.config import AwsConfig, Config
from sre.features.alerts.feature import AlertsFeature, slack_poster
from sre.features.backups.feature import BackupsFeature
from sre.features.cost.feature import CostFeature
from sre.features.deploys.feature import DeploysFeature
from sre.features.heartbeat.feature import HeartbeatFeature, pagerduty_client
from sre.features.probes.engine import StartHook
from sre.features.probes.feature import ProbesFeature
from sre.features.retention.feature import RetentionFeature
from sre.features.retention.window import rules_window
from sre.features.rollback.feature import RollbackFeature
from sre.features.rollback.targets import target_for
from sre.features.rollback.triggers import Triggers
from sre.runtime.events import EventLog
from sre.runtime.feature import Feature
from sre.runtime.ha import SOLO, Cluster
from sre.runtime.ha.guards import FencedAlertmanager
from sre.runtime.ha.metrics import LeaderOnly
from sre.runtime.http import BearerToken
from sre.runtime.jobs import JobRunner
from sre.runtime.maintenance import StoreMaintenance
from sre.runtime.metrics import catalog_metric
from sre.runtime.notices import OutboxNotifier
from sre.runtime.redact import configured
from sre.runtime.store import Store

log = logging.getLogger(__name__)

Clock = Callable[[], float]


@dataclass(frozen=True)
class Parts:
    """The runtime objects features are built from (only :func:`build_features` reads this)."""

    config: Config
    store: Store
    registry: CollectorRegistry
    clock: Clock
    session: aiohttp.ClientSession  # shared; for HTTP clients of outside systems
    runner: JobRunner
    notices: OutboxNotifier
    env: Mapping[str, str]
    insecure_dev: bool = False
    on_probe_start: StartHook | None = None
    started_at: float | None = None  # when the process started (a reload keeps it)
    cluster: Cluster = SOLO  # the other replicas (PostgreSQL state), or none


FeatureBuilder = Callable[[Parts], list[Feature]]


def section_notes(cfg: Config) -> list[str]:
    """One line per absent optional section: what it switches off."""
    notes = []
    if cfg.prometheus is None:
        notes.append("prometheus: section absent, retention check and auto-rollback off")
    if cfg.alertmanager is None:
        notes.append("alertmanager: section absent, silences and alert reconcile off")
    if cfg.slack is None:
        notes.append("slack: section absent, Slack notifications off (console sink)")
    if cfg.aws is None:
        notes.append("aws: section absent, AWS features (cost, backups) off")
    if cfg.cost is None:
        notes.append("cost: section absent, cost analysis off")
    if not cfg.backups:
        notes.append("backups: section absent, backup verification off")
    if not cfg.probes:
        health = sum(1 for s in cfg.services if s.health is not None)
        if health:
            notes.append(f"probes: section absent, probing services[].health only ({health})")
        else:
            notes.append("probes: section absent and no services[].health, health probes off")
    if not any(s.rollback is not None for s in cfg.services):
        notes.append("rollback: no service has a rollback block, auto-rollback off")
    if cfg.deploys is None:
        notes.append("deploys: section absent, deploy threads in Slack off")
    if cfg.grafana is None:
        notes.append("grafana: section absent, annotations of deploys and silences off")
    return notes


def aws_client(aws: AwsConfig, errors: Counter) -> AwsClient:
    """An AWS client whose failed attempts count in ``sre_aws_errors_total``."""

    def counted(api: str, err: ClientError) -> None:
        errors.labels(api=api, reason=err.reason).inc()

    return AwsClient(aws.region, aws.endpoint_url, on_error=counted)


def api_token(cfg: Config, env: Mapping[str, str], insecure_dev: bool) -> BearerToken:
    """The token of the audit API and ``/-/reload``: required, unless ``--insecure-dev``."""
    name = cfg.daemon.api_token_env
    value = env.get(name, "") if name else ""
    return BearerToken(value or None, variable=str(name), open_without=insecure_dev)


def annotations_client(
    cfg: Config, env: Mapping[str, str], session: aiohttp.ClientSession
) -> GrafanaClient | None:
    """Grafana for annotations: when configured, switched on and its token is set."""
    grafana = cfg.grafana
    if grafana is None or not grafana.annotations:
        return None
    token = env.get(grafana.token_env, "")
    if not token:
        log.warning("grafana: %s is unset, annotations off", grafana.token_env)
        return None
    return GrafanaClient(grafana.url, token, session)


def deploys_feature(p: Parts, events: EventLog) -> DeploysFeature:
    cfg = p.config
    return DeploysFeature(
        cfg.deploys,
        cfg.services,
        channel_for=cfg.slack.channel_for if cfg.slack else None,
        poster=slack_poster(cfg.slack, p.env) if cfg.deploys else ConsoleSink(),
        grafana=annotations_client(cfg, p.env, p.session),
        store=p.store,
        events=events,
        registry=p.registry,
        clock=p.clock,
        cluster=p.cluster,
    )


def build_features(p: Parts) -> list[Feature]:
    """Every feature of the daemon, constructed with what it uses, in start order."""
    cfg = p.config
    events = EventLog(p.store)  # what features tell each other (the deploys feature reads it)
    probes = ProbesFeature(
        cfg.all_probes(),
        concurrency=cfg.daemon.probe_concurrency,
        runner=p.runner,
        registry=p.registry,
        clock=p.clock,
        on_start=p.on_probe_start,
        cluster=p.cluster,
        store=p.store,
    )
    rollback: RollbackFeature | None = None
    if cfg.prometheus is not None and any(s.rollback is not None for s in cfg.services):
        prometheus = PrometheusClient(cfg.prometheus.url, p.session)
        kubectl, helm = Kubectl(), Helm()
        rollback = RollbackFeature(
            cfg.services,
            cfg.daemon.rollbacks,
            targets={s.name: target_for(s, kubectl, helm) for s in cfg.services if s.rollback},
            triggers=Triggers(cfg, prometheus, probes.status),
            store=p.store,
            notices=p.notices,
            registry=p.registry,
            clock=p.clock,
            api_token=api_token(cfg, p.env, p.insecure_dev),
            redactor=configured(cfg, p.env),
            events=events,
            cluster=p.cluster,
        )
    am = cfg.alertmanager
    am_client: AlertmanagerClient | None = None
    if am is not None and p.cluster.shared:  # a silence is claimed under this replica's term
        am_client = FencedAlertmanager(am.url, p.session, term=p.cluster.member, store=p.store)
    elif am is not None:
        am_client = AlertmanagerClient(am.url, p.session)
    alerts = AlertsFeature(
        cfg.daemon,
        cfg.slack,
        am,
        poster=slack_poster(cfg.slack, p.env),
        alertmanager_client=am_client,
        rollbacks=rollback,
        store=p.store,
        notices=p.notices,
        registry=p.registry,
        clock=p.clock,
        env=p.env,
        insecure_dev=p.insecure_dev,
        cluster=p.cluster,
    )
    features: list[Feature] = [StoreMaintenance(p.store), probes, alerts]
    # What the leader's AWS jobs measure, exported by the leader only (docs/ha.md).
    leader_metrics = LeaderOnly(p.cluster.leading)
    p.registry.register(leader_metrics)
    aws_errors = catalog_metric(p.registry, "sre_aws_errors_total")
    if cfg.cost is not None and cfg.aws is not None:
        cost = CostFeature(
            cfg.cost,
            aws_client(cfg.aws, aws_errors),
            store=p.store,
            notices=p.notices,
            registry=leader_metrics.registry,
            clock=p.clock,
        )
        features.append(cost)
    if cfg.backups and cfg.aws is not None:
        backups = BackupsFeature(
            cfg.backups,
            aws_client(cfg.aws, aws_errors),
            store=p.store,
            notices=p.notices,
            registry=leader_metrics.registry,
            clock=p.clock,
        )
        features.append(backups)
    features.append(deploys_feature(p, events))  # before rollback: stopped after it
    if rollback is not None:
        features.append(rollback)
    if cfg.prometheus is not None:
        longest, unknown_because = rules_window(cfg)
        retention = RetentionFeature(
            PrometheusClient(cfg.prometheus.url, p.session),
            longest,
            unknown_because=unknown_because,
            registry=p.registry,
        )
        features.append(retention)
    if am is not None and am.heartbeat is not None:
        heartbeat = HeartbeatFeature(
            am.heartbeat,
            cfg.daemon,
            pagerduty=pagerduty_client(am.heartbeat, p.env, p.session, insecure_dev=p.insecure_dev),
            store=p.store,
            notices=p.notices,
            registry=p.registry,
            clock=p.clock,
            env=p.env,
            system=cfg.system,
            environment=cfg.environment,
            watched_since=p.started_at,
            insecure_dev=p.insecure_dev,
            cluster=p.cluster,
        )
        features.append(heartbeat)
    return features
