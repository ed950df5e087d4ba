"""PostgreSQL (postgres_exporter) and Redis (redis_exporter) alerts, one set per datastore.

Each datastore's series are ``selectors.<kind>`` plus its own ``selector``; its alerts carry
a ``datastore`` label so Slack and Alertmanager can tell two instances apart.
"""

from __future__ import annotations

from sre.config import Config, Datastore
from sre.config.durations import Duration
from sre.model import Alert, RuleGroup
from sre.promql import num, seconds, sel

from ._common import AlertFactory

FILE = "datastores"
DASHBOARD = "datastores"


def postgres(cfg: Config, ds: Datastore, make: AlertFactory) -> list[Alert]:
    t = cfg.thresholds
    s = sel(cfg.selectors.postgres, ds.selector)
    labels = {"datastore": ds.name}
    lag = t.postgres_replication_lag_above
    return [
        make(
            "PostgresDown",
            f"pg_up{s} == 0",
            severity="critical",
            summary="postgres_exporter cannot reach PostgreSQL",
            description="PostgreSQL {{ $labels.instance }} has not answered for 1 minute.",
            for_=Duration.of(minutes=1),
            dashboard=DASHBOARD,
            labels=labels,
        ),
        make(
            "PostgresConnectionsNearMax",
            f"sum by (instance) (pg_stat_activity_count{s})\n"
            f"  / max by (instance) (pg_settings_max_connections{s})\n"
            f"  > {num(t.postgres_connections_ratio_above)}",
            severity="warning",
            summary="PostgreSQL is close to max_connections",
            description=(
                "PostgreSQL {{ $labels.instance }} uses {{ $value | humanizePercentage }} of "
                f"max_connections (threshold {num(t.postgres_connections_ratio_above)})."
            ),
            for_=Duration.of(minutes=5),
            dashboard=DASHBOARD,
            labels=labels,
        ),
        make(
            "PostgresReplicationLagHigh",
            f"pg_replication_lag_seconds{s} > {seconds(lag)}",
            severity="warning",
            summary="A PostgreSQL replica lags behind its primary",
            description=(
                "Replica {{ $labels.instance }} is {{ $value | humanizeDuration }} behind "
                f"the primary (threshold {lag})."
            ),
            for_=Duration.of(minutes=5),
            dashboard=DASHBOARD,
            labels=labels,
        ),
        make(
            "PostgresDeadlocks",
            f"increase(pg_stat_database_deadlocks{s}[5m]) > 0",
            severity="warning",
            summary="PostgreSQL detected deadlocks",
            description=(
                "Database {{ $labels.datname }} on {{ $labels.instance }} had "
                '{{ $value | printf "%.0f" }} deadlocks in the last 5 minutes.'
            ),
            dashboard=DASHBOARD,
            labels=labels,
        ),
    ]


def redis(cfg: Config, ds: Datastore, make: AlertFactory) -> list[Alert]:
    t = cfg.thresholds
    s = sel(cfg.selectors.redis, ds.selector)
    labels = {"datastore": ds.name}
    return [
        make(
            "RedisDown",
            f"redis_up{s} == 0",
            severity="critical",
            summary="redis_exporter cannot reach Redis",
            description="Redis {{ $labels.instance }} has not answered for 1 minute.",
            for_=Duration.of(minutes=1),
            dashboard=DASHBOARD,
            labels=labels,
        ),
        make(
            "RedisMemoryHigh",
            f"redis_memory_used_bytes{s}\n  / (redis_memory_max_bytes{s} > 0)\n"
            f"  > {num(t.redis_memory_ratio_above)}",
            severity="warning",
            summary="Redis is close to its maxmemory",
            description=(
                "Redis {{ $labels.instance }} uses {{ $value | humanizePercentage }} of "
                f"maxmemory (threshold {num(t.redis_memory_ratio_above)})."
            ),
            for_=Duration.of(minutes=5),
            dashboard=DASHBOARD,
            labels=labels,
        ),
        make(
            "RedisEvictions",
            f"increase(redis_evicted_keys_total{s}[5m]) > 0",
            severity="critical",
            summary="Redis is evicting keys",
            description=(
                'Redis {{ $labels.instance }} evicted {{ $value | printf "%.0f" }} keys in '
                "the last 5 minutes: queued tasks may be lost."
            ),
            dashboard=DASHBOARD,
            labels=labels,
        ),
    ]


def groups(cfg: Config) -> list[RuleGroup]:
    make = AlertFactory(cfg)
    rules: list[Alert] = []
    for ds in cfg.datastores:
        rules += postgres(cfg, ds, make) if ds.kind == "postgres" else redis(cfg, ds, make)
    if not rules:
        return []
    return [RuleGroup(f"{cfg.system}.datastores.alerts", FILE, tuple(rules))]
