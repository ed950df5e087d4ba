"""The daemon's own section: where it listens, where its state lives, its engines' tuning."""

from __future__ import annotations

from dataclasses import dataclass, field

from sre.config.durations import Duration
from sre.config.validators import (
    env_name,
    listen,
    positive,
    state_url,
)


@dataclass(frozen=True)
class RollbackEngine:
    enabled: bool = True  # the global switch
    interval: Duration = field(default=Duration.of(seconds=15), metadata={"check": positive})
    no_verdict_warn_after: int = field(default=20, metadata={"check": positive})
    # The rate() window inside the trigger queries, and the range query's step.
    rate_window: Duration = field(default=Duration.of(minutes=1), metadata={"check": positive})
    step: Duration = field(default=Duration.of(seconds=15), metadata={"check": positive})


@dataclass(frozen=True)
class DaemonConfig:
    listen: str = field(default="0.0.0.0:9877", metadata={"check": listen})
    state: str = field(default="sqlite:///var/lib/sre/state.db", metadata={"check": state_url})
    webhook_token_env: str | None = field(default="SRE_WEBHOOK_TOKEN", metadata={"check": env_name})
    probe_concurrency: int = field(default=256, metadata={"check": positive})
    shutdown_timeout: Duration = field(
        default=Duration.of(seconds=20), metadata={"check": positive}
    )
    misfire_grace: Duration = field(default=Duration.of(seconds=30), metadata={"check": positive})
    max_webhook_bytes: int = field(default=1_048_576, metadata={"check": positive})
    reconcile_interval: Duration = field(
        default=Duration.of(minutes=5), metadata={"check": positive}
    )
    rollbacks: RollbackEngine = field(default_factory=RollbackEngine)

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
