"""``sre.yaml`` -> frozen dataclasses (DESIGN.md section 3).

The dataclasses *are* the schema: :class:`sre.config.loader.Loader` walks their type hints,
so adding a key is adding a field. Keys are a contract with tests outside this repository:
add, never rename. Every problem is reported together, each with its key path, before
anything starts.

Modules, by section: ``connections`` (prometheus, grafana, runbooks, kubernetes,
selectors), ``alerting`` (alertmanager: receivers, routes, inhibitions, route tests),
``services`` (services, datastores, queues, probes, thresholds), ``daemon`` (daemon),
``integrations`` (slack, deploys, aws, cost, backups), ``root`` (the whole file and its
cross-section rules), ``files`` (reading it). ``loader`` is the typed loader,
``validators`` the per-value checks, ``durations`` the ``2m``-style duration type,
``compose`` the ``service_defaults:`` / ``include:`` layer that runs before the loader.
"""

from sre.config.alerting import (
    AlertmanagerConfig,
    DaemonReceiver,
    EmailReceiver,
    Heartbeat,
    InhibitRule,
    PagerDutyReceiver,
    Receiver,
    RootRoute,
    Route,
    RouteTest,
    SlackWebhookReceiver,
    Smtp,
    TimeInterval,
    TimeRange,
    WebhookReceiver,
)
from sre.config.compose import IncludedFile
from sre.config.connections import (
    GrafanaConfig,
    KubernetesConfig,
    PrometheusConfig,
    RunbooksConfig,
    Selectors,
)
from sre.config.daemon import DaemonConfig, HaConfig, RollbackEngine
from sre.config.durations import Duration
from sre.config.files import ConfigError, config_sha256, load_config, parse_config
from sre.config.integrations import (
    AnomalyConfig,
    AwsConfig,
    Backup,
    CostConfig,
    DeploysConfig,
    RdsLocation,
    RestoreCheck,
    RestoreTest,
    S3Location,
    SlackConfig,
    SlackRoute,
)
from sre.config.loader import Problem
from sre.config.root import Config
from sre.config.services import (
    SLO,
    Datastore,
    Probe,
    Queue,
    Rollback,
    RollbackTarget,
    Scrape,
    Service,
    Thresholds,
)

__all__ = [
    "SLO",
    "AlertmanagerConfig",
    "AnomalyConfig",
    "AwsConfig",
    "Backup",
    "Config",
    "ConfigError",
    "CostConfig",
    "DaemonConfig",
    "DaemonReceiver",
    "Datastore",
    "DeploysConfig",
    "Duration",
    "EmailReceiver",
    "GrafanaConfig",
    "HaConfig",
    "Heartbeat",
    "IncludedFile",
    "InhibitRule",
    "KubernetesConfig",
    "PagerDutyReceiver",
    "Probe",
    "Problem",
    "PrometheusConfig",
    "Queue",
    "RdsLocation",
    "Receiver",
    "RestoreCheck",
    "RestoreTest",
    "Rollback",
    "RollbackEngine",
    "RollbackTarget",
    "RootRoute",
    "Route",
    "RouteTest",
    "RunbooksConfig",
    "S3Location",
    "Scrape",
    "Selectors",
    "Service",
    "SlackConfig",
    "SlackRoute",
    "SlackWebhookReceiver",
    "Smtp",
    "Thresholds",
    "TimeInterval",
    "TimeRange",
    "WebhookReceiver",
    "config_sha256",
    "load_config",
    "parse_config",
]
