"""Sections of the daemon's features that talk to people and AWS: Slack, AWS, cost, backups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sre.config.durations import Duration
from sre.config.loader import key
from sre.config.validators import (
    cron,
    dns_name,
    env_name,
    non_empty,
    positive,
    ratio,
    url,
)


@dataclass(frozen=True)
class SlackRoute:
    channel: str = key("Slack channel (name or id)", check=non_empty)
    match: dict[str, str] = key(
        "labels that must all be equal for this route; empty: matches everything",
        factory=dict,
    )


@dataclass(frozen=True)
class SlackConfig:
    """Where alerts and notices go; without it (or without a token) they go to the log."""

    token_env: str = key("variable holding the bot token", "SLACK_BOT_TOKEN", check=env_name)
    signing_secret_env: str = key(
        "variable holding the signing secret for `POST /slack/actions`",
        "SLACK_SIGNING_SECRET",
        check=env_name,
    )
    base_url: str | None = key("the Web API's base URL; set only for tests", None, check=url)
    routes: tuple[SlackRoute, ...] = key(
        "first match wins; the last route is also the fallback",
        (SlackRoute(channel="#alerts"),),
        check=non_empty,
    )
    digest_after: Duration = key(
        "when posting a channel's waiting groups one by one (about one a second) would take "
        "longer than this, one digest message names them instead (critical groups keep "
        "their own messages while they fit)",
        Duration.of(seconds=60),
        check=positive,
    )

    def channel_for(self, labels: dict[str, str]) -> str:
        """First route whose ``match`` labels all equal the alert's wins."""
        for route in self.routes:
            if all(labels.get(k) == v for k, v in route.match.items()):
                return route.channel
        return self.routes[-1].channel


@dataclass(frozen=True)
class DeploysConfig:
    """Deploy threads: one Slack thread per new revision of a service with a rollback
    block, updated in place (rolling out, then verified, rolled back or no verdict)."""

    channel: str | None = key(
        "Slack channel of the deploy threads; unset: the first `slack.routes` entry matching "
        "the labels `source: deploy`, `service`, `severity: info`",
        None,
    )
    watch: Duration | None = key(
        "how long a new revision is watched before its thread says verified (or no "
        "verdict); unset: the service's `rollback.after_deploy`, else 10m",
        None,
        check=positive,
    )

    def watch_for(self, after_deploy: Duration | None) -> Duration:
        return self.watch or after_deploy or Duration.of(minutes=10)


@dataclass(frozen=True)
class AwsConfig:
    """Credentials come from the standard AWS chain (environment, files, IRSA)."""

    region: str = key("AWS region", "us-east-1")
    endpoint_url: str | None = key("another endpoint, e.g. a local AWS emulator", None, check=url)


@dataclass(frozen=True)
class AnomalyConfig:
    lookback_days: int = key("days of history the median is taken over", 14, check=positive)
    min_increase_usd: float = key("an increase smaller than this is never an anomaly", 50.0)
    ratio: float = key(
        "anomalous at this many times the median (and the MAD test)", 1.5, check=positive
    )


@dataclass(frozen=True)
class CostConfig:
    """AWS cost analysis from Cost Explorer."""

    schedule: str = key("cron (UTC) of the daily analysis", "0 7 * * *", check=cron)
    daily_budget_usd: float | None = key(
        "yesterday's total above this is a breach", None, check=positive
    )
    monthly_budget_usd: float | None = key(
        "the month's forecast above this is a breach", None, check=positive
    )
    anomaly: AnomalyConfig = key("per-service anomaly detection", factory=AnomalyConfig)
    refresh_every: Duration = key(
        "Cost Explorer answers are cached this long (it bills each request)",
        Duration.of(hours=6),
        check=positive,
    )


@dataclass(frozen=True)
class S3Location:
    bucket: str = key("bucket", check=non_empty)
    prefix: str = key("key prefix the dumps are under", "")


@dataclass(frozen=True)
class RdsLocation:
    db_instance: str = key("RDS DB instance identifier whose snapshots count", check=non_empty)


@dataclass(frozen=True)
class RestoreCheck:
    sql: str = key("a query returning one number", check=non_empty)
    min: float | None = key("the number must be at least this", None)
    max: float | None = key("the number must be at most this", None)
    equals: float | None = key("the number must be exactly this", None)

    def _problems(self) -> list[tuple[str, str]]:
        if self.min is None and self.max is None and self.equals is None:
            return [("", "needs at least one of min, max or equals")]
        return []


@dataclass(frozen=True)
class RestoreTest:
    """Restore the newest dump into a scratch database and check it."""

    kind: Literal["postgres"] = key("`postgres` (a pg_dump file)")
    dsn_env: str = key("variable holding the scratch server's DSN", check=env_name)
    schedule: str = key("cron (UTC) of the restore test", "0 4 * * 0", check=cron)
    checks: tuple[RestoreCheck, ...] = key("queries the restored database must pass", ())
    timeout: Duration = key("the whole restore's budget", Duration.of(hours=1), check=positive)


@dataclass(frozen=True)
class Backup:
    """One backup to verify: exactly one of ``s3`` or ``rds``."""

    name: str = key("its name in metrics and notices", check=dns_name)
    max_age: Duration = key("the newest copy older than this fails freshness", check=positive)
    s3: S3Location | None = key("dumps in S3", None)
    rds: RdsLocation | None = key("RDS snapshots", None)
    min_size_bytes: int = key("the newest copy smaller than this fails size", 0)
    max_shrink_ratio: float = key(
        "fails size when this much smaller than the median of the earlier copies",
        0.5,
        check=ratio,
    )
    interval: Duration = key("how often it is verified", Duration.of(hours=1), check=positive)
    restore_test: RestoreTest | None = key("a restore test (s3 dumps only)", None)

    def _problems(self) -> list[tuple[str, str]]:
        if (self.s3 is None) == (self.rds is None):
            return [("", "needs exactly one of s3 or rds")]
        if self.restore_test is not None and self.s3 is None:
            return [("restore_test", "a restore test needs an s3 backup (a pg_dump file)")]
        return []
