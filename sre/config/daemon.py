"""The daemon's own section: where it listens, where its state lives, its engines' tuning."""

from __future__ import annotations

from dataclasses import dataclass

from sre.config.durations import Duration
from sre.config.loader import key
from sre.config.validators import env_name, listen, positive, state_url


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
class DaemonConfig:
    listen: str = key("host:port of the HTTP server", "0.0.0.0:9877", check=listen)
    state: str = key(
        "the state store: `sqlite:///path` (after `sqlite:///` the path is absolute; "
        "`sqlite:///./x.db` is relative to the working directory)",
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
