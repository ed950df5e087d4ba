"""``sre.yaml`` -> frozen dataclasses (DESIGN.md section 3).

The dataclasses *are* the schema: :class:`sre.config.loader.Loader` walks their type hints,
so adding a key is adding a field. Keys are a contract with tests outside this repository:
add, never rename. Every problem is reported together, each with its key path, before
anything starts.

Modules, by section: ``connections`` (prometheus, alertmanager, grafana, runbooks,
kubernetes, selectors), ``services`` (services, datastores, queues, probes, thresholds),
``daemon`` (daemon), ``integrations`` (slack, aws, cost, backups), ``root`` (the whole file
and its cross-section rules), ``files`` (reading it). ``loader`` is the typed loader,
``validators`` the per-value checks, ``durations`` the ``2m``-style duration type,
``compose`` the ``service_defaults:`` / ``include:`` layer that runs before the loader.
"""

from sre.config.compose import IncludedFile
from sre.config.connections import (
    AlertmanagerConfig,
    GrafanaConfig,
    KubernetesConfig,
    PrometheusConfig,
    RunbooksConfig,
    Selectors,
)
from sre.config.daemon import DaemonConfig, RollbackEngine
from sre.config.durations import Duration
from sre.config.files import ConfigError, config_sha256, load_config, parse_config
from sre.config.integrations import (
    AnomalyConfig,
    AwsConfig,
    Backup,
    CostConfig,
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
    "Datastore",
    "Duration",
    "GrafanaConfig",
    "IncludedFile",
    "KubernetesConfig",
    "Probe",
    "Problem",
    "PrometheusConfig",
    "Queue",
    "RdsLocation",
    "RestoreCheck",
    "RestoreTest",
    "Rollback",
    "RollbackEngine",
    "RollbackTarget",
    "RunbooksConfig",
    "S3Location",
    "Selectors",
    "Service",
    "SlackConfig",
    "SlackRoute",
    "Thresholds",
    "config_sha256",
    "load_config",
    "parse_config",
]
