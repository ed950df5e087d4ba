"""Every metric name the rules and dashboards use, in one place.

Three kinds of metric meet here:

* what the monitored platform exports (standard exporters, the ``http_*`` application
  metrics, and the agent/queue metrics this project defines for the Parallel AI workers);
* the recording rules that ``rules/`` defines (``level:metric:operations``);
* the daemon's own ``sre_*`` metrics, as the daemon issues name them.

Rules, dashboards and the daemon import these names instead of spelling strings, so a
rename is one edit and the render lint can check that every recording rule used exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

# --- application metrics (every service) --------------------------------------------
HTTP_REQUESTS = "http_requests_total"  # counter {service, code}
HTTP_DURATION = "http_request_duration_seconds"  # histogram {service, le}
HTTP_DURATION_BUCKET = f"{HTTP_DURATION}_bucket"
# Requests per client identity (API key id, or the /24 of the source address), exported by
# the API service for its top clients only so cardinality stays bounded. Used by the
# "one source dominates" security alert.
HTTP_REQUESTS_BY_CLIENT = "http_requests_by_client_total"  # counter {service, client}

# --- agent and queue metrics (defined by this project for the agent workers) ----------
AGENT_TASKS_PROCESSED = "agent_tasks_processed_total"  # counter {agent}
AGENT_TASKS_FAILED = "agent_tasks_failed_total"  # counter {agent, reason}
AGENT_TASK_DURATION = "agent_task_duration_seconds"  # histogram {agent, le}
AGENT_TASK_RETRIES = "agent_task_retries_total"  # counter {agent}
QUEUE_LENGTH = "queue_length"  # gauge {queue}
QUEUE_OLDEST_AGE = "queue_oldest_task_age_seconds"  # gauge {queue}

AGENT_METRICS = {
    AGENT_TASKS_PROCESSED: ("counter", "agent", "Tasks an agent finished (success or failure)."),
    AGENT_TASKS_FAILED: ("counter", "agent, reason", "Tasks that ended in failure."),
    AGENT_TASK_DURATION: ("histogram", "agent, le", "Wall time of one task, seconds."),
    AGENT_TASK_RETRIES: ("counter", "agent", "Task attempts that were retries."),
    QUEUE_LENGTH: ("gauge", "queue", "Tasks waiting in a Redis queue."),
    QUEUE_OLDEST_AGE: ("gauge", "queue", "Age of the oldest waiting task, seconds."),
}

# --- recording rules -------------------------------------------------------------------
REQUEST_RATE = "service:http_requests:rate5m"  # {service}
ERROR_RATIO = "service:http_requests_errors:ratio_rate5m"  # {service}
AUTH_FAILURE_RATIO = "service:http_requests_auth_failures:ratio_rate5m"  # {service}
CODE_RATE = "service_code:http_requests:rate5m"  # {service, code}
LATENCY_QUANTILES = {
    "p50": "service:http_request_duration_seconds:p50_5m",
    "p95": "service:http_request_duration_seconds:p95_5m",
    "p99": "service:http_request_duration_seconds:p99_5m",
}
AGENT_PROCESSED_RATE = "agent:agent_tasks_processed:rate5m"  # {agent}
AGENT_FAILURE_RATIO = "agent:agent_tasks_failed:ratio_rate5m"  # {agent}
AGENT_P95 = "agent:agent_task_duration_seconds:p95_5m"  # {agent}

# The configured services and their own numbers, as constant series (rules/thresholds.py),
# so one rule covers every service by joining ``on (service)``.
SERVICE_INFO = "service:sre_service:info"  # {service, namespace} = 1 per configured service
# Per service with an SLO: its error budget as a ratio (99.9 -> 0.001).
# Burn rate = error ratio over a window / this budget.
SLO_ERROR_BUDGET = "service:slo_error_budget:ratio"  # {service, namespace}
SLO_LATENCY_OBJECTIVE = "service:slo_latency_p95_objective:seconds"  # {service, namespace}
# What ServiceHighErrorRate / ServiceHighLatency compare with, and their ``for`` in seconds.
ERROR_RATIO_THRESHOLD = "service:alert_threshold:error_ratio"
MIN_REQUEST_RATE_THRESHOLD = "service:alert_threshold:min_request_rate"
LATENCY_THRESHOLD = "service:alert_threshold:latency_p95_seconds"
ERROR_RATIO_FOR = "service:alert_for_seconds:error_ratio"
LATENCY_FOR = "service:alert_for_seconds:latency_p95"

# SLO windows from the Google SRE workbook, plus the 30d compliance window.
SLO_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")


def slo_error_ratio(window: str) -> str:
    """Recording rule: share of 5xx responses over ``window``, per service."""
    if window not in SLO_WINDOWS:
        raise ValueError(f"no SLO recording rule for window {window!r}")
    return f"service:sli_errors:ratio_rate{window}"


@dataclass(frozen=True)
class BurnRateAlert:
    """One row of the workbook's multi-window, multi-burn-rate table."""

    long_window: str
    short_window: str
    factor: Decimal
    severity: str  # critical = page, warning = ticket
    for_: str


BURN_RATE_ALERTS = (
    # The short window already makes each alert reset quickly once the burn stops, as the
    # workbook intends; `for` only rides out a single odd evaluation, so it stays short.
    BurnRateAlert("1h", "5m", Decimal("14.4"), "critical", "2m"),
    BurnRateAlert("6h", "30m", Decimal("6"), "critical", "2m"),
    BurnRateAlert("1d", "2h", Decimal("3"), "warning", "2m"),
    BurnRateAlert("3d", "6h", Decimal("1"), "warning", "2m"),
)

# --- dashboards ---------------------------------------------------------------------------
DASHBOARD_SLUGS = (
    "overview",
    "service-performance",
    "resources",
    "agents",
    "datastores",
    "slo",
    "sre-daemon",
)


def dashboard_uid(system: str, slug: str) -> str:
    """Stable Grafana uid shared by the dashboards and the alerts that link to them."""
    if slug not in DASHBOARD_SLUGS:
        raise ValueError(f"unknown dashboard {slug!r}")
    return f"{system}-{slug}"


# --- the daemon's own metrics (names from the daemon issues) ------------------------------
# Label values that form a fixed set, so rules can match them (and the reference lists them).
LABEL_VALUES: dict[str, dict[str, tuple[str, ...]]] = {
    "sre_job_runs_total": {"outcome": ("success", "failure", "missed")},
    "sre_config_reloads_total": {"result": ("success", "failure")},
    "sre_probe_failures_total": {
        "reason": ("timeout", "connect_refused", "dns", "tls", "status", "body", "other")
    },
    "sre_slack_deliveries_total": {"result": ("ok", "retry", "permanent_error")},
    "sre_slack_actions_total": {
        "action": ("ack", "silence_1h", "silence_4h", "rollback"),
        "result": ("ok", "error"),
    },
    "sre_rollback_evaluations_total": {"verdict": ("pass", "fail", "no_verdict")},
    "sre_rollback_queries_total": {"result": ("ok", "error")},
    "sre_rollbacks_total": {
        "trigger": ("error_rate", "latency", "health", "manual"),
        "result": ("success", "failure", "dry_run"),
    },
    "sre_backup_verification_success": {"step": ("freshness", "size", "integrity", "restore")},
    "sre_deploys_total": {
        "outcome": (
            "verified",
            "rolled_back",
            "rollback_failed",
            "failing",
            "no_verdict",
            "superseded",
        )
    },
    "sre_annotations_total": {
        "kind": ("deploy", "rollback", "silence"),
        "result": ("created", "adopted"),
    },
    "sre_deploys_deliveries_total": {
        "target": ("slack", "grafana"),
        "result": ("ok", "retry", "permanent_error"),
    },
    "sre_ha_lease_transitions_total": {"transition": ("acquired", "lost")},
    "sre_ha_fenced_actions_total": {
        "action": (
            "slack_post",
            "slack_update",
            "outbox",
            "rollback",
            "silence",
            "pagerduty",
            "annotation",
        )
    },
    "sre_aws_errors_total": {
        "reason": (
            "throttled",
            "server_error",
            "timeout",
            "unreachable",
            "auth",
            "not_found",
            "data_unavailable",
            "no_credentials",
            "bad_response",
            "rejected",
        )
    },
}
DAEMON_METRICS = {
    # core
    "sre_build_info": ("gauge", "version", "Always 1; the running version."),
    "sre_config_info": ("gauge", "sha256", "Always 1; sha256 of the loaded sre.yaml."),
    "sre_config_reloads_total": (
        "counter",
        "result",
        "Config reloads (SIGHUP, POST /-/reload); a failure keeps the running config.",
    ),
    "sre_http_bad_requests_total": (
        "counter",
        "",
        "Requests the HTTP server could not parse (answered 400 by aiohttp).",
    ),
    "sre_job_runs_total": ("counter", "job, outcome", "Scheduled job runs by outcome."),
    "sre_job_duration_seconds": ("histogram", "job", "Wall time of one job run."),
    "sre_job_last_success_timestamp_seconds": ("gauge", "job", "When a job last succeeded."),
    # probes
    "sre_probe_success": ("gauge", "service, target", "1 if the last probe passed."),
    "sre_probe_duration_seconds": ("gauge", "service, target", "Duration of the last probe."),
    "sre_probe_http_status_code": ("gauge", "service, target", "Last HTTP status code."),
    "sre_probe_tls_cert_expiry_timestamp_seconds": (
        "gauge",
        "service, target",
        "notAfter of the served certificate.",
    ),
    "sre_probe_failures_total": ("counter", "service, target, reason", "Failed probes."),
    "sre_probe_engine_heartbeat_timestamp_seconds": (
        "gauge",
        "interval",
        "When a probe engine last finished a round.",
    ),
    # alert handling
    "sre_alerts_received_total": ("counter", "status", "Alerts received from Alertmanager."),
    "sre_alert_duplicates_total": ("counter", "", "Duplicate notifications dropped."),
    "sre_slack_deliveries_total": ("counter", "result", "Slack API deliveries by result."),
    "sre_slack_delivery_latency_seconds": ("histogram", "", "Webhook receipt to Slack post."),
    "sre_outbox_pending": ("gauge", "", "Messages waiting in the outbox."),
    "sre_slack_actions_total": ("counter", "action, result", "Slack button actions."),
    "sre_slack_rate_limited_total": (
        "counter",
        "",
        "Slack answers 429 (the delivery paces below the limits; a few are normal).",
    ),
    "sre_slack_digested_groups_total": (
        "counter",
        "",
        "Alert groups shown in a storm digest instead of a message of their own.",
    ),
    "sre_slack_recovered_posts_total": (
        "counter",
        "",
        "Posts whose answer was lost, found in Slack and kept (not posted twice).",
    ),
    "sre_alerts_store_errors_total": (
        "counter",
        "",
        "Times the alert path could not read or write the state store (a full disk...).",
    ),
    # rollbacks
    "sre_rollback_evaluations_total": (
        "counter",
        "service, verdict, reason",
        "Rollback evaluations by verdict.",
    ),
    "sre_rollbacks_total": ("counter", "service, trigger, result", "Rollbacks performed."),
    "sre_rollback_last_timestamp_seconds": ("gauge", "service", "When the last rollback ran."),
    # deploys: threads and annotations
    "sre_deploys_total": (
        "counter",
        "service, outcome",
        "Deploy threads that reached an outcome (a new revision after its watch window).",
    ),
    "sre_annotations_total": (
        "counter",
        "kind, result",
        "Grafana annotations created, or found created by an attempt whose answer was lost.",
    ),
    "sre_deploys_deliveries_total": (
        "counter",
        "target, result",
        "Deploy thread steps (Slack) and annotations (Grafana) delivered, by result.",
    ),
    "sre_deploys_pending": (
        "gauge",
        "",
        "Events and deploy steps waiting in the outbox for the deploys feature.",
    ),
    "sre_rollback_queries_total": (
        "counter",
        "result",
        "PromQL range queries of the rollback triggers (a bounded number per evaluation "
        "cycle, whatever the number of services); error: no answer, no verdict from it.",
    ),
    # cost
    "sre_aws_cost_api_requests_total": ("counter", "", "Cost Explorer requests made."),
    "sre_aws_cost_daily_usd": ("gauge", "service", "Yesterday's unblended cost."),
    "sre_aws_cost_month_to_date_usd": ("gauge", "", "Month-to-date unblended cost."),
    "sre_aws_cost_month_forecast_usd": ("gauge", "", "Forecast cost for the month."),
    "sre_aws_cost_budget_usd": ("gauge", "period", "Configured budget (daily, monthly)."),
    "sre_aws_cost_anomaly": ("gauge", "service", "1 if yesterday's cost is anomalous."),
    "sre_aws_errors_total": ("counter", "api, reason", "Failed AWS API attempts by reason."),
    # backups
    "sre_backup_last_success_timestamp_seconds": (
        "gauge",
        "backup",
        "When verification last passed.",
    ),
    "sre_backup_age_seconds": ("gauge", "backup", "Age of the newest backup."),
    "sre_backup_size_bytes": ("gauge", "backup", "Size of the newest backup."),
    "sre_backup_verification_success": ("gauge", "backup, step", "1 if a check step passed."),
    "sre_backup_restore_duration_seconds": ("gauge", "backup", "Last restore test time (RTO)."),
    # the dead man's switch (alertmanager.heartbeat)
    "sre_heartbeat_last_seen_timestamp_seconds": (
        "gauge",
        "",
        "When Alertmanager last delivered the Watchdog heartbeat.",
    ),
    "sre_heartbeat_missing": (
        "gauge",
        "",
        "1 while no heartbeat arrived for longer than max_silence (Slack and PagerDuty told).",
    ),
    "sre_heartbeats_received_total": ("counter", "", "Heartbeat webhooks accepted."),
    "sre_pagerduty_events_total": (
        "counter",
        "action, result",
        "PagerDuty Events v2 sends by action (trigger, resolve) and result (accepted or why not).",
    ),
    # the start-up retention check (prometheus section)
    "sre_prometheus_retention_seconds": (
        "gauge",
        "",
        "The time retention Prometheus reports (/api/v1/status/runtimeinfo).",
    ),
    "sre_rules_longest_window_seconds": (
        "gauge",
        "",
        "The most history any rule reads (longest range plus offset).",
    ),
    "sre_prometheus_retention_short": (
        "gauge",
        "",
        "1 when Prometheus keeps less history than the rules read, 0 when enough.",
    ),
    # high availability (several replicas on PostgreSQL; a lone SQLite daemon always leads)
    "sre_ha_leader": ("gauge", "", "1 on the replica that holds the lease, else 0."),
    "sre_ha_replicas": ("gauge", "", "Live replicas this replica sees (itself included)."),
    "sre_ha_lease_epoch": ("gauge", "", "The lease epoch this replica last saw."),
    "sre_ha_lease_transitions_total": (
        "counter",
        "transition",
        "Times this replica acquired or lost the lease.",
    ),
    "sre_ha_fenced_actions_total": (
        "counter",
        "action",
        "Side effects refused because this replica's term was over (a paused leader).",
    ),
    "sre_probe_targets_owned": (
        "gauge",
        "",
        "Probe targets this replica probes (its rendezvous-hash share of the live replicas).",
    ),
}
