"""Alerts on the SRE daemon's own health, from its ``sre_*`` metrics.

The daemon's ``job`` label (a scheduler job id such as ``cost.daily``) collides with the
scrape target's ``job`` label, so Prometheus stores it as ``exported_job`` (the default,
``honor_labels: false``); descriptions use that name. Counters with fixed label sets
(``outcome``, ``result``) are expected to start at zero so ``increase()`` sees the first event.
"""

from __future__ import annotations

from sre.config import Config
from sre.config.durations import Duration
from sre.model import Alert, RuleGroup
from sre.promql import seconds, sel

from ._common import AlertFactory

FILE = "sre-daemon"
DASHBOARD = "sre-daemon"
FAILURE = 'outcome="failure"'
PERMANENT_ERROR = 'result="permanent_error"'
SUCCESS = 'result="success"'
ROLLBACK_FAILED = 'result="failure"'


def stall_after(cfg: Config) -> Duration:
    """Four rounds of the slowest probe, and never less than a minute."""
    longest = max((p.interval for p in cfg.all_probes()), default=Duration.of(seconds=15))
    return max(Duration(longest.milliseconds * 4), Duration.of(minutes=1))


def core(cfg: Config, make: AlertFactory) -> list[Alert]:
    d = cfg.selectors.daemon
    out = [
        make(
            "SREDaemonDown",
            f"up{sel(d)} == 0\nor\nabsent(up{sel(d)})",
            severity="critical",
            summary="The SRE daemon is down",
            description=(
                "Prometheus has not scraped the SRE daemon ({{ $labels.job }}) for 5 minutes: "
                "no probes, rollbacks, backup checks or Slack notifications are running."
            ),
            for_=Duration.of(minutes=5),
            dashboard=DASHBOARD,
        ),
        make(
            "SREJobFailing",
            f"increase(sre_job_runs_total{sel(d, FAILURE)}[1h]) > 0",
            severity="warning",
            summary="A scheduled SRE job failed",
            description=(
                "Job {{ $labels.exported_job }} failed "
                '{{ $value | printf "%.0f" }} times in the last hour.'
            ),
            dashboard=DASHBOARD,
        ),
    ]
    if cfg.all_probes():
        limit = stall_after(cfg)
        out.append(
            make(
                "SREProbeEngineStalled",
                f"time() - sre_probe_engine_heartbeat_timestamp_seconds{sel(d)} > {seconds(limit)}",
                severity="critical",
                summary="The probe engine has stopped finishing rounds",
                description=(
                    "The {{ $labels.interval }} probe round last finished "
                    "{{ $value | humanizeDuration }} ago "
                    f"(limit {limit}): health probes are not running."
                ),
                dashboard=DASHBOARD,
            )
        )
    return out


def backups(cfg: Config, make: AlertFactory) -> list[Alert]:
    d = cfg.selectors.daemon
    out = []
    for backup in cfg.backups:
        max_age, s = backup.max_age, sel(d, f'backup="{backup.name}"')
        out.append(
            make(
                "SREBackupStale",
                f"sre_backup_age_seconds{s} > {seconds(max_age)}\n"
                f"or\ntime() - sre_backup_last_success_timestamp_seconds{s} > "
                f"{seconds(max_age)}",
                severity="critical",
                summary="A backup is older than its max age or has not verified lately",
                description=(
                    "Backup {{ $labels.backup }}: the newest copy is, or its last passed "
                    "verification was, {{ $value | humanizeDuration }} ago "
                    f"(max age {max_age})."
                ),
                dashboard=DASHBOARD,
                labels={"backup": backup.name},
            )
        )
    return out


def cost(cfg: Config, make: AlertFactory) -> list[Alert]:
    if cfg.cost is None:
        return []
    d = cfg.selectors.daemon
    out = []

    def budget(period: str) -> str:
        period_is = f'period="{period}"'
        return f"max(sre_aws_cost_budget_usd{sel(d, period_is)})"

    checks = []
    if cfg.cost.daily_budget_usd is not None:
        checks.append(("SRECostOverBudget", "daily", "sre_aws_cost_daily_usd", "sum"))
    if cfg.cost.monthly_budget_usd is not None:
        checks.append(("SRECostOverBudget", "monthly", "sre_aws_cost_month_to_date_usd", "max"))
        checks.append(
            ("SRECostForecastOverBudget", "monthly", "sre_aws_cost_month_forecast_usd", "max")
        )
    for name, period, metric, agg in checks:
        what = "forecast for this month" if "forecast" in metric else f"{period} cost"
        out.append(
            make(
                name,
                f"{agg}({metric}{sel(d)}) > on () {budget(period)}",
                severity="warning",
                summary=f"AWS {what} is over budget",
                description=(
                    f"The AWS {what} is {{{{ $value | humanize }}}} USD, over the {period} budget."
                ),
                dashboard=DASHBOARD,
                labels={"period": period},
            )
        )
    out.append(
        make(
            "SRECostAnomaly",
            f"sre_aws_cost_anomaly{sel(d)} == 1",
            severity="info",
            summary="Yesterday's AWS cost of a service is anomalous",
            description=(
                "AWS cost of {{ $labels.service }} yesterday is well above its recent "
                "average (see cost.anomaly in sre.yaml)."
            ),
            dashboard=DASHBOARD,
        )
    )
    return out


def delivery(cfg: Config, make: AlertFactory) -> list[Alert]:
    d = cfg.selectors.daemon
    return [
        make(
            "SRERollbackPerformed",
            f"increase(sre_rollbacks_total{sel(d, SUCCESS)}[15m]) > 0",
            severity="warning",
            summary="The SRE daemon rolled a service back",
            description=(
                "{{ $labels.service }} was rolled back automatically in the last 15 minutes "
                "(trigger: {{ $labels.trigger }}). Find out what the bad release did."
            ),
            dashboard=DASHBOARD,
        ),
        make(
            "SRERollbackFailed",
            f"increase(sre_rollbacks_total{sel(d, ROLLBACK_FAILED)}[15m]) > 0",
            severity="critical",
            summary="An automatic rollback failed",
            description=(
                "Rolling back {{ $labels.service }} (trigger: {{ $labels.trigger }}) failed: "
                "the bad release is probably still serving."
            ),
            dashboard=DASHBOARD,
        ),
        make(
            "SRESlackDeliveryFailing",
            f"increase(sre_slack_deliveries_total{sel(d, PERMANENT_ERROR)}[15m]) > 0",
            severity="warning",
            summary="Slack rejects the SRE daemon's messages",
            description=(
                '{{ $value | printf "%.0f" }} Slack deliveries failed permanently in the '
                "last 15 minutes: alerts are not reaching Slack."
            ),
            dashboard=DASHBOARD,
        ),
        make(
            "SRESlackOutboxGrowing",
            f"delta(sre_outbox_pending{sel(d)}[15m]) > 0\n"
            f"and\nmin_over_time(sre_outbox_pending{sel(d)}[15m]) > 0",
            severity="warning",
            summary="Messages pile up in the SRE daemon's outbox",
            description=(
                "{{ $value }} more messages are waiting than 15 minutes ago and the outbox "
                "has not been empty since: Slack delivery is stuck or too slow."
            ),
            for_=Duration.of(minutes=5),
            dashboard=DASHBOARD,
        ),
    ]


def groups(cfg: Config) -> list[RuleGroup]:
    make = AlertFactory(cfg)
    rules = core(cfg, make) + backups(cfg, make) + cost(cfg, make) + delivery(cfg, make)
    return [RuleGroup(f"{cfg.system}.sre-daemon.alerts", FILE, tuple(rules))]
