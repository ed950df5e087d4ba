"""Sections of the daemon's features that talk to people and AWS: Slack, AWS, cost, backups."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sre.config.durations import Duration
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
    channel: str = field(metadata={"check": non_empty})
    match: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SlackConfig:
    token_env: str = field(default="SLACK_BOT_TOKEN", metadata={"check": env_name})
    signing_secret_env: str = field(default="SLACK_SIGNING_SECRET", metadata={"check": env_name})
    base_url: str | None = field(default=None, metadata={"check": url})
    routes: tuple[SlackRoute, ...] = field(
        default=(SlackRoute(channel="#alerts"),), metadata={"check": non_empty}
    )

    def channel_for(self, labels: dict[str, str]) -> str:
        """First route whose ``match`` labels all equal the alert's wins."""
        for route in self.routes:
            if all(labels.get(k) == v for k, v in route.match.items()):
                return route.channel
        return self.routes[-1].channel


@dataclass(frozen=True)
class AwsConfig:
    region: str = "us-east-1"
    endpoint_url: str | None = field(default=None, metadata={"check": url})


@dataclass(frozen=True)
class AnomalyConfig:
    lookback_days: int = field(default=14, metadata={"check": positive})
    min_increase_usd: float = 50.0
    ratio: float = field(default=1.5, metadata={"check": positive})


@dataclass(frozen=True)
class CostConfig:
    schedule: str = field(default="0 7 * * *", metadata={"check": cron})
    daily_budget_usd: float | None = field(default=None, metadata={"check": positive})
    monthly_budget_usd: float | None = field(default=None, metadata={"check": positive})
    anomaly: AnomalyConfig = field(default_factory=AnomalyConfig)
    # Cost Explorer bills each request and refreshes ~3 times a day: cache this long.
    refresh_every: Duration = field(default=Duration.of(hours=6), metadata={"check": positive})


@dataclass(frozen=True)
class S3Location:
    bucket: str = field(metadata={"check": non_empty})
    prefix: str = ""


@dataclass(frozen=True)
class RdsLocation:
    db_instance: str = field(metadata={"check": non_empty})


@dataclass(frozen=True)
class RestoreCheck:
    sql: str = field(metadata={"check": non_empty})
    min: float | None = None
    max: float | None = None
    equals: float | None = None

    def _problems(self) -> list[tuple[str, str]]:
        if self.min is None and self.max is None and self.equals is None:
            return [("", "needs at least one of min, max or equals")]
        return []


@dataclass(frozen=True)
class RestoreTest:
    kind: Literal["postgres"]
    dsn_env: str = field(metadata={"check": env_name})
    schedule: str = field(default="0 4 * * 0", metadata={"check": cron})
    checks: tuple[RestoreCheck, ...] = ()
    timeout: Duration = field(default=Duration.of(hours=1), metadata={"check": positive})


@dataclass(frozen=True)
class Backup:
    name: str = field(metadata={"check": dns_name})
    max_age: Duration = field(metadata={"check": positive})
    s3: S3Location | None = None
    rds: RdsLocation | None = None
    min_size_bytes: int = 0
    # Fail when the newest backup is this fraction smaller than the median of earlier ones.
    max_shrink_ratio: float = field(default=0.5, metadata={"check": ratio})
    interval: Duration = field(default=Duration.of(hours=1), metadata={"check": positive})
    restore_test: RestoreTest | None = None

    def _problems(self) -> list[tuple[str, str]]:
        if (self.s3 is None) == (self.rds is None):
            return [("", "needs exactly one of s3 or rds")]
        if self.restore_test is not None and self.s3 is None:
            return [("restore_test", "a restore test needs an s3 backup (a pg_dump file)")]
        return []
