"""7. SRE daemon: probes, AWS cost, backups, rollbacks, Slack delivery and scheduled jobs.

Every metric here is one of the daemon's own ``sre_*`` names in ``sre.catalog.DAEMON_METRICS``;
``_metric`` refuses any other, so a rename in the catalog breaks this module loudly.

The daemon's ``job`` label (a scheduler job id such as ``cost.daily``) collides with the
scrape target's ``job``, so Prometheus stores it as ``exported_job`` (``honor_labels:
false``, the default), as the alert rules in ``rules/sre_daemon.py`` read it too.
"""

from __future__ import annotations

from typing import Any

from dashboards import _annotations
from dashboards import _panels as P
from sre import catalog as C
from sre import promql
from sre.config import Config

SLUG = "sre-daemon"
_RATE = "[$__rate_interval]"
_DAY = 86_400.0
_DAILY, _MONTHLY = 'period="daily"', 'period="monthly"'
_FAILURE = 'outcome="failure"'
_JOB = "exported_job"


def _metric(cfg: Config, name: str, *extra: str) -> str:
    base = name.removesuffix("_bucket")
    if base not in C.DAEMON_METRICS:
        raise KeyError(f"{name!r} is not a daemon metric in sre.catalog.DAEMON_METRICS")
    return promql.metric(name, cfg.selectors.daemon, *extra)


def _probes(cfg: Config) -> list[Any]:
    def m(name: str, *extra: str) -> str:
        return _metric(cfg, name, *extra)

    return [
        P.row("Health probes"),
        P.stat(
            "Probe status",
            "Last result of every health probe target (1 = passed), per service and target.",
            "none",
            [P.q(f"min by (service, target) ({m('sre_probe_success')})", "{{service}} {{target}}")],
            w=24,
            h=4,
            steps=((P.RED, None), (P.GREEN, 1)),
            mappings=P.UP_DOWN,
            graph=False,
            text_mode="value_and_name",
        ),
        P.timeseries(
            "Probe latency",
            "Duration of the last probe of each target.",
            "s",
            [
                P.q(
                    f"max by (service, target) ({m('sre_probe_duration_seconds')})",
                    "{{service}} {{target}}",
                )
            ],
            w=8,
            min_=0,
        ),
        P.timeseries(
            "Probe failures by reason",
            "Failed probes per second by service and reason (timeout, connect_refused, dns, "
            "tls, status, body, other).",
            "ops",
            [
                P.q(
                    f"sum by (service, reason) (rate({m('sre_probe_failures_total')}{_RATE}))",
                    "{{service}} {{reason}}",
                )
            ],
            w=8,
            stack=True,
        ),
        P.timeseries(
            "Probe engine heartbeat age",
            "Seconds since each probe engine (one per interval) last finished a round. "
            "Growing without bound means the engine has stalled.",
            "s",
            [
                P.q(
                    "time() - max by (interval) "
                    f"({m('sre_probe_engine_heartbeat_timestamp_seconds')})",
                    "every {{interval}}",
                )
            ],
            w=8,
            min_=0,
        ),
        P.table(
            "TLS certificates",
            "Time until the certificate each HTTPS target serves expires.",
            "s",
            [
                P.instant(
                    "sort(min by (service, target) "
                    f"({m('sre_probe_tls_cert_expiry_timestamp_seconds')}) - time())"
                )
            ],
            columns=[
                P.Column(
                    "Expires in", "s", ((P.RED, None), (P.ORANGE, 7 * _DAY), (P.GREEN, 21 * _DAY))
                )
            ],
            w=24,
            h=6,
        ),
    ]


def _cost(cfg: Config) -> list[Any]:
    def m(name: str, *extra: str) -> str:
        return _metric(cfg, name, *extra)

    monthly = cfg.cost.monthly_budget_usd if cfg.cost else None
    month_steps: P.Steps = ((P.GREEN, None), (P.RED, monthly)) if monthly else P.BASE
    return [
        P.row("AWS cost"),
        P.timeseries(
            "Daily cost by service",
            "Yesterday's unblended AWS cost per service, as the cost job last fetched it.",
            "currencyUSD",
            [P.q(f"sum by (service) ({m('sre_aws_cost_daily_usd')})", "{{service}}")],
            w=10,
            bars=True,
            stack=True,
        ),
        P.timeseries(
            "Daily cost vs budget",
            "Yesterday's total cost against the configured daily budget.",
            "currencyUSD",
            [
                P.q(f"sum({m('sre_aws_cost_daily_usd')})", "cost"),
                P.q(f"max({m('sre_aws_cost_budget_usd', _DAILY)})", "budget"),
            ],
            w=7,
            min_=0,
        ),
        P.stat(
            "Month to date vs budget",
            "Month-to-date cost, the forecast for the whole month and the monthly budget.",
            "currencyUSD",
            [
                P.q(f"max({m('sre_aws_cost_month_to_date_usd')})", "month to date"),
                P.q(f"max({m('sre_aws_cost_month_forecast_usd')})", "forecast"),
                P.q(f"max({m('sre_aws_cost_budget_usd', _MONTHLY)})", "budget"),
            ],
            w=7,
            h=8,
            steps=month_steps,
            graph=False,
            text_mode="value_and_name",
        ),
        P.table(
            "Cost anomalies",
            "Services whose cost yesterday was anomalous against their recent history.",
            "none",
            [P.instant(f"{m('sre_aws_cost_anomaly')} == 1")],
            columns=[P.Column("Anomalous", "none")],
            hide=("Time", "__name__"),
            w=24,
            h=5,
        ),
    ]


def _backups(cfg: Config) -> list[Any]:
    def m(name: str, *extra: str) -> str:
        return _metric(cfg, name, *extra)

    limits = ", ".join(f"{b.name} {b.max_age}" for b in cfg.backups) or "none configured"
    tightest = min((b.max_age.seconds for b in cfg.backups), default=None)
    age_steps: P.Steps = ((P.GREEN, None), (P.RED, tightest)) if tightest else P.BASE
    return [
        P.row("Backups"),
        P.bargauge(
            "Backup age",
            f"Age of the newest backup of each source. Maximum ages: {limits}.",
            "s",
            [P.q(f"max by (backup) ({m('sre_backup_age_seconds')})", "{{backup}}")],
            w=8,
            max_=2 * tightest if tightest else None,
            steps=age_steps,
        ),
        P.table(
            "Verification results",
            "Result of each verification step of the newest backup: freshness, size, "
            "integrity and restore test.",
            "none",
            [P.instant(f"min by (backup, step) ({m('sre_backup_verification_success')})")],
            columns=[P.Column("Result", "none", ((P.RED, None), (P.GREEN, 1)), P.PASS_FAIL)],
            w=8,
        ),
        P.table(
            "Last verified and restore time",
            "Per backup: time since verification last passed, and how long the last restore "
            "test took (the recovery time objective we actually meet).",
            "s",
            [
                P.instant(
                    f"time() - max by (backup) ({m('sre_backup_last_success_timestamp_seconds')})"
                ),
                P.instant(f"max by (backup) ({m('sre_backup_restore_duration_seconds')})"),
            ],
            columns=[P.Column("Since last verified", "s"), P.Column("Restore test took", "s")],
            w=8,
        ),
        P.timeseries(
            "Backup size",
            "Size of the newest backup of each source; a sudden drop means a partial dump.",
            "bytes",
            [P.q(f"max by (backup) ({m('sre_backup_size_bytes')})", "{{backup}}")],
            w=24,
            h=6,
            min_=0,
        ),
    ]


def _actions(cfg: Config) -> list[Any]:
    def m(name: str, *extra: str) -> str:
        return _metric(cfg, name, *extra)

    latency = m("sre_slack_delivery_latency_seconds_bucket")
    return [
        P.row("Rollbacks and Slack"),
        P.table(
            "Rollbacks in the time range",
            "Rollbacks the daemon performed, by service, trigger and result (success, failure, "
            "dry_run).",
            "short",
            [
                P.instant(
                    "sum by (service, trigger, result) "
                    f"(increase({m('sre_rollbacks_total')}[$__range])) > 0"
                )
            ],
            columns=[P.Column("Rollbacks", "short")],
            w=8,
        ),
        P.timeseries(
            "Rollback evaluations by verdict",
            "Rollback checks per second by service and verdict (pass, fail, no_verdict).",
            "ops",
            [
                P.q(
                    "sum by (service, verdict) "
                    f"(rate({m('sre_rollback_evaluations_total')}{_RATE}))",
                    "{{service}} {{verdict}}",
                )
            ],
            w=8,
            stack=True,
        ),
        P.timeseries(
            "Alerts received",
            "Alerts received from Alertmanager per second by status, and duplicates dropped.",
            "ops",
            [
                P.q(
                    f"sum by (status) (rate({m('sre_alerts_received_total')}{_RATE}))",
                    "{{status}}",
                ),
                P.q(f"sum(rate({m('sre_alert_duplicates_total')}{_RATE}))", "duplicates"),
            ],
            w=8,
        ),
        P.timeseries(
            "Slack deliveries by result",
            "Slack API deliveries per second by result (ok, retry, permanent_error).",
            "ops",
            [
                P.q(
                    f"sum by (result) (rate({m('sre_slack_deliveries_total')}{_RATE}))",
                    "{{result}}",
                )
            ],
            w=8,
            stack=True,
        ),
        P.timeseries(
            "Slack delivery latency p95",
            "95th percentile time from webhook receipt to the Slack post.",
            "s",
            [P.q(f"histogram_quantile(0.95, sum by (le) (rate({latency}{_RATE})))", "p95")],
            w=8,
            min_=0,
        ),
        P.timeseries(
            "Outbox pending",
            "Messages written to the state store and not yet delivered to Slack.",
            "short",
            [P.q(f"max({m('sre_outbox_pending')})", "pending")],
            w=8,
            min_=0,
        ),
    ]


def _jobs(cfg: Config) -> list[Any]:
    def m(name: str, *extra: str) -> str:
        return _metric(cfg, name, *extra)

    duration = m("sre_job_duration_seconds_bucket")
    runs, failures = m("sre_job_runs_total"), m("sre_job_runs_total", _FAILURE)
    return [
        P.row("Scheduled jobs"),
        P.timeseries(
            "Job runs by outcome",
            "Scheduled job runs in each interval by job and outcome (success, failure, missed).",
            "short",
            [
                P.q(
                    f"sum by ({_JOB}, outcome) (increase({runs}[$__rate_interval])) > 0",
                    "{{" + _JOB + "}} {{outcome}}",
                )
            ],
            w=12,
            bars=True,
            stack=True,
        ),
        P.table(
            "Job failures in the time range",
            "Jobs that failed at least once in the selected time range.",
            "short",
            [P.instant(f"sum by ({_JOB}) (increase({failures}[$__range])) > 0")],
            columns=[P.Column("Failures", "short", ((P.ORANGE, None), (P.RED, 3)))],
            w=6,
        ),
        P.table(
            "Since last success",
            "Time since each job last succeeded.",
            "s",
            [
                P.instant(
                    f"time() - max by ({_JOB}) ({m('sre_job_last_success_timestamp_seconds')})"
                )
            ],
            columns=[P.Column("Since last success", "s")],
            w=6,
        ),
        P.timeseries(
            "Job duration p95",
            "95th percentile wall time of a run, per job.",
            "s",
            [
                P.q(
                    f"histogram_quantile(0.95, sum by ({_JOB}, le) (rate({duration}{_RATE})))",
                    "{{" + _JOB + "}}",
                )
            ],
            w=12,
            min_=0,
        ),
        P.table(
            "Running version",
            "Version and config checksum (sha256 of sre.yaml) of each running daemon.",
            "none",
            [
                P.instant(f"max by (instance, version) ({m('sre_build_info')})"),
                P.instant(f"max by (instance, sha256) ({m('sre_config_info')})"),
            ],
            columns=[P.Column("Build", "none"), P.Column("Config", "none")],
            w=12,
        ),
    ]


def build(cfg: Config) -> Any:
    return P.dashboard(
        cfg,
        SLUG,
        "SRE daemon",
        "The SRE daemon's own work: probes, cost, backups, rollbacks, Slack and its jobs.",
        _probes(cfg) + _cost(cfg) + _backups(cfg) + _actions(cfg) + _jobs(cfg),
        annotations=_annotations.events(cfg),
        time_from="now-24h",
    )
