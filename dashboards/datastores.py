"""5. Database and cache: PostgreSQL (postgres_exporter) and Redis (redis_exporter).

One section per datastore in ``sre.yaml``; its series are ``selectors.<kind>`` plus the
datastore's own ``selector`` where several instances share one exporter job.
"""

from __future__ import annotations

from typing import Any

from dashboards import _panels as P
from sre import promql
from sre.config import Config, Datastore

SLUG = "datastores"
_RATE = "[$__rate_interval]"
_UP_STEPS = ((P.RED, None), (P.GREEN, 1))


def _postgres(cfg: Config, ds: Datastore) -> list[Any]:
    def m(name: str) -> str:
        return promql.metric(name, cfg.selectors.postgres, ds.selector)

    def rate(name: str) -> str:
        return f"sum by (instance) (rate({m(name)}{_RATE}))"

    hits, reads = rate("pg_stat_database_blks_hit"), rate("pg_stat_database_blks_read")
    conn_ratio = cfg.thresholds.postgres_connections_ratio_above
    lag = cfg.thresholds.postgres_replication_lag_above.seconds
    return [
        P.row(f"PostgreSQL: {ds.name}"),
        P.stat(
            "Up",
            "Whether postgres_exporter can reach the database (pg_up).",
            "none",
            [P.q(f"min({m('pg_up')})")],
            w=4,
            h=8,
            steps=_UP_STEPS,
            mappings=P.UP_DOWN,
            graph=False,
        ),
        P.timeseries(
            "Connections vs max",
            "Open connections by instance against max_connections. The alert fires at "
            f"{conn_ratio:.0%} of max.",
            "short",
            [
                P.q(f"sum by (instance) ({m('pg_stat_activity_count')})", "{{instance}} open"),
                P.q(f"max by (instance) ({m('pg_settings_max_connections')})", "{{instance}} max"),
            ],
            w=10,
            min_=0,
        ),
        P.timeseries(
            "Transactions",
            "Commits and rollbacks per second, all databases.",
            "ops",
            [
                P.q(rate("pg_stat_database_xact_commit"), "{{instance}} commit"),
                P.q(rate("pg_stat_database_xact_rollback"), "{{instance}} rollback"),
            ],
            w=10,
        ),
        P.timeseries(
            "Slow queries",
            "Longest running transaction by state (pg_stat_activity) and mean statement time "
            "(pg_stat_statements) per instance.",
            "s",
            [
                P.q(
                    f"max by (instance, state) ({m('pg_stat_activity_max_tx_duration')})",
                    "{{instance}} longest {{state}}",
                ),
                P.q(
                    f"{rate('pg_stat_statements_seconds_total')}"
                    f" / {rate('pg_stat_statements_calls_total')}",
                    "{{instance}} mean statement",
                ),
            ],
            w=8,
            min_=0,
        ),
        P.timeseries(
            "Replication lag",
            "How far each replica is behind its primary. The red line is the alert threshold.",
            "s",
            [P.q(f"max by (instance) ({m('pg_replication_lag_seconds')})", "{{instance}}")],
            w=8,
            min_=0,
            steps=((P.GREEN, None), (P.RED, lag)),
            threshold_style="line",
        ),
        P.timeseries(
            "Cache hit ratio",
            "Share of block reads served from shared buffers. Below ~99% the working set "
            "does not fit in memory.",
            "percentunit",
            [P.q(f"{hits} / ({hits} + {reads})", "{{instance}}")],
            w=8,
            max_=1,
        ),
        P.timeseries(
            "Deadlocks",
            "Deadlocks detected per second, all databases.",
            "ops",
            [P.q(rate("pg_stat_database_deadlocks"), "{{instance}}")],
            w=8,
            min_=0,
        ),
    ]


def _redis(cfg: Config, ds: Datastore) -> list[Any]:
    def m(name: str) -> str:
        return promql.metric(name, cfg.selectors.redis, ds.selector)

    def rate(name: str) -> str:
        return f"sum by (instance) (rate({m(name)}{_RATE}))"

    return [
        P.row(f"Redis: {ds.name}"),
        P.stat(
            "Up",
            "Whether redis_exporter can reach Redis (redis_up).",
            "none",
            [P.q(f"min({m('redis_up')})")],
            w=4,
            h=8,
            steps=_UP_STEPS,
            mappings=P.UP_DOWN,
            graph=False,
        ),
        P.timeseries(
            "Memory used vs maxmemory",
            "Memory Redis uses against its maxmemory (0 = no limit set).",
            "bytes",
            [
                P.q(f"max by (instance) ({m('redis_memory_used_bytes')})", "{{instance}} used"),
                P.q(f"max by (instance) ({m('redis_memory_max_bytes')})", "{{instance}} max"),
            ],
            w=10,
            min_=0,
        ),
        P.timeseries(
            "Clients",
            "Connected and blocked clients (blocked: waiting in BLPOP and friends).",
            "short",
            [
                P.q(
                    f"sum by (instance) ({m('redis_connected_clients')})", "{{instance}} connected"
                ),
                P.q(f"sum by (instance) ({m('redis_blocked_clients')})", "{{instance}} blocked"),
            ],
            w=10,
            min_=0,
        ),
        P.timeseries(
            "Commands",
            "Commands processed per second.",
            "ops",
            [P.q(rate("redis_commands_processed_total"), "{{instance}}")],
            w=8,
            min_=0,
        ),
        P.timeseries(
            "Evictions and expirations",
            "Keys evicted for lack of memory and keys expired, per second. Evictions of queue "
            "keys lose tasks.",
            "ops",
            [
                P.q(rate("redis_evicted_keys_total"), "{{instance}} evicted"),
                P.q(rate("redis_expired_keys_total"), "{{instance}} expired"),
            ],
            w=8,
            min_=0,
        ),
        P.timeseries(
            "Keyspace hit ratio",
            "Share of key lookups that found the key.",
            "percentunit",
            [
                P.q(
                    f"{rate('redis_keyspace_hits_total')} / ({rate('redis_keyspace_hits_total')}"
                    f" + {rate('redis_keyspace_misses_total')})",
                    "{{instance}}",
                )
            ],
            w=8,
            max_=1,
        ),
    ]


def build(cfg: Config) -> Any:
    panels: list[Any] = []
    for ds in cfg.datastores:
        panels += _postgres(cfg, ds) if ds.kind == "postgres" else _redis(cfg, ds)
    if not panels:
        # No datastores configured: still show whatever the exporters' selectors find.
        panels = _postgres(cfg, Datastore("postgres", "postgres", "default")) + _redis(
            cfg, Datastore("redis", "redis", "default")
        )
    return P.dashboard(
        cfg,
        SLUG,
        "Database and cache",
        "PostgreSQL connections, transactions, slow queries, replication and cache hits; "
        "Redis memory, clients, commands and evictions.",
        panels,
    )
