"""The daemon's own section: where it listens, where its state lives, its engines' tuning."""

from __future__ import annotations

from dataclasses import dataclass

from sre.config.durations import Duration
from sre.config.loader import key
from sre.config.validators import POSTGRES_SCHEMES, env_name, listen, positive, state_url


@dataclass(frozen=True)
class RollbackEngine:
    """How the rollback feature evaluates (per-service policy: `services[].rollback`)."""

    enabled: bool = key(
        "the global switch: false records and announces decisions, and runs nothing", True
    )
    interval: Duration = key(
        "how often every service's triggers are evaluated", Duration.of(seconds=15), check=positive
    )
    no_verdict_warn_after: int = key(
        "evaluations in a row without a verdict before Slack is told", 20, check=positive
    )
    rate_window: Duration = key(
        "the `rate()` window inside the trigger queries", Duration.of(minutes=1), check=positive
    )
    step: Duration = key(
        "the range queries' step (one sample per step)", Duration.of(seconds=15), check=positive
    )


@dataclass(frozen=True)
class HaConfig:
    """Several replicas on one PostgreSQL state store (docs/ha.md); ignored on SQLite."""

    lease_duration: Duration = key(
        "how long the leader's lease lasts without a renewal: a leader that stops (a crash, "
        "a pause, a partition) is replaced this long after its last renewal at most, plus "
        "one renew_interval; a replica unheard of for this long drops out of the probe shards",
        Duration.of(seconds=15),
        check=positive,
    )
    renew_interval: Duration = key(
        "how often each replica renews its heartbeat and the leader its lease (the others "
        "try to take the lease as often); at most a third of lease_duration",
        Duration.of(seconds=2),
        check=positive,
    )

    def _problems(self) -> list[tuple[str, str]]:
        if self.renew_interval.seconds * 3 > self.lease_duration.seconds:
            return [
                (
                    "renew_interval",
                    f"{self.renew_interval} must be at most a third of lease_duration "
                    f"({self.lease_duration}), so a lease survives a missed renewal",
                )
            ]
        return []


@dataclass(frozen=True)
class DaemonConfig:
    listen: str = key("host:port of the HTTP server", "0.0.0.0:9877", check=listen)
    state: str = key(
        "the state store: `sqlite:///path` (after `sqlite:///` the path is absolute; "
        "`sqlite:///./x.db` is relative to the working directory) for one daemon, or "
        "`postgresql://HOST[:PORT]/DBNAME` for several replicas (docs/ha.md); PostgreSQL "
        "credentials only through libpq's environment (`PGUSER`, `PGPASSWORD`, `PGPASSFILE`)",
        "sqlite:///var/lib/sre/state.db",
        check=state_url,
    )
    webhook_token_env: str | None = key(
        "variable holding the bearer token Alertmanager sends; null turns the receiver off",
        "SRE_WEBHOOK_TOKEN",
        check=env_name,
    )
    api_token_env: str | None = key(
        "variable holding the bearer token of the audit API (`GET /rollbacks`) and "
        "`POST /-/reload`; unset or null: those answer 401",
        "SRE_API_TOKEN",
        check=env_name,
    )
    probe_concurrency: int = key(
        "probes in flight at once, across all intervals", 256, check=positive
    )
    shutdown_timeout: Duration = key(
        "the whole shutdown budget: running jobs, probes and open requests share it",
        Duration.of(seconds=20),
        check=positive,
    )
    misfire_grace: Duration = key(
        "a scheduled run later than this is skipped and counted as `missed`",
        Duration.of(seconds=30),
        check=positive,
    )
    max_webhook_bytes: int = key(
        "largest Alertmanager webhook body accepted (413 above)", 1_048_576, check=positive
    )
    reconcile_interval: Duration = key(
        "how often Slack messages are checked against Alertmanager's active alerts",
        Duration.of(minutes=5),
        check=positive,
    )
    reconcile_grace: Duration = key(
        "how long an alert must be missing from Alertmanager's active alerts before "
        "reconcile resolves its Slack message (a restarted Alertmanager relearns alerts "
        "within a rule evaluation or two)",
        Duration.of(minutes=3),
    )
    rollbacks: RollbackEngine = key("the rollback engine", factory=RollbackEngine)
    ha: HaConfig = key("replicas on PostgreSQL: lease and heartbeat", factory=HaConfig)

    @property
    def shared_state(self) -> bool:
        """True when the state is a PostgreSQL database several replicas may share."""
        return self.state.startswith(POSTGRES_SCHEMES)

    @property
    def state_path(self) -> str:
        """``sqlite:///var/lib/sre/state.db`` -> ``/var/lib/sre/state.db`` (absolute, as in
        DESIGN.md; ``sqlite:////abs`` works too). ``sqlite:///./state.db`` is relative to the
        working directory, for local runs."""
        rest = self.state.removeprefix("sqlite:///")
        if rest.startswith(("./", "../")):
            return rest
        return "/" + rest.lstrip("/")

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)
