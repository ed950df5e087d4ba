"""Agent and queue alerts: failure ratio, slow processing, queue backlog, oldest task age."""

from __future__ import annotations

from sre import catalog
from sre.config import Config
from sre.config.durations import Duration
from sre.model import Alert, RuleGroup
from sre.promql import num, seconds, sel

from ._common import AlertFactory

FILE = "agents"
DASHBOARD = "agents"


def agent_alerts(cfg: Config, make: AlertFactory) -> list[Alert]:
    t = cfg.thresholds
    return [
        make(
            "AgentHighFailureRate",
            f"{catalog.AGENT_FAILURE_RATIO} > {num(t.agent_failure_ratio_above)}",
            severity="warning",
            summary="An agent fails too many of its tasks",
            description=(
                "Agent {{ $labels.agent }} failed {{ $value | humanizePercentage }} of its "
                f"tasks over 10 minutes (threshold {num(t.agent_failure_ratio_above)})."
            ),
            for_=Duration.of(minutes=10),
            dashboard=DASHBOARD,
        ),
        make(
            "AgentSlowProcessing",
            f"{catalog.AGENT_P95} > {num(t.agent_p95_seconds_above)}",
            severity="warning",
            summary="An agent's p95 task processing time is too high",
            description=(
                "Agent {{ $labels.agent }} p95 task time is {{ $value | humanizeDuration }} "
                f"(threshold {num(t.agent_p95_seconds_above)}s) for 15 minutes."
            ),
            for_=Duration.of(minutes=15),
            dashboard=DASHBOARD,
        ),
    ]


def queue_alerts(cfg: Config, make: AlertFactory) -> list[Alert]:
    agents = cfg.selectors.agents
    out = []
    for queue in cfg.queues:
        backlog, names = queue.backlog_above, f'queue="{queue.name}"'
        out.append(
            make(
                "QueueBacklogHigh",
                f"{catalog.QUEUE_LENGTH}{sel(agents, names)} > {num(backlog)}",
                severity="warning",
                summary="A task queue has a large backlog",
                description=(
                    "Queue {{ $labels.queue }} holds {{ $value }} waiting tasks "
                    f"(threshold {backlog}) for 10 minutes."
                ),
                for_=Duration.of(minutes=10),
                dashboard=DASHBOARD,
                labels={"queue": queue.name},
            )
        )
    for queue in cfg.queues:
        age, names = queue.oldest_age_above, f'queue="{queue.name}"'
        out.append(
            make(
                "QueueOldestTaskTooOld",
                f"{catalog.QUEUE_OLDEST_AGE}{sel(agents, names)} > {seconds(age)}",
                severity="critical",
                summary="The oldest task in a queue has waited too long",
                description=(
                    "The oldest task in queue {{ $labels.queue }} has waited "
                    f"{{{{ $value | humanizeDuration }}}} (threshold {age})."
                ),
                for_=Duration.of(minutes=5),
                dashboard=DASHBOARD,
                labels={"queue": queue.name},
            )
        )
    return out


def groups(cfg: Config) -> list[RuleGroup]:
    make = AlertFactory(cfg)
    rules = agent_alerts(cfg, make) + queue_alerts(cfg, make)
    return [RuleGroup(f"{cfg.system}.agents.alerts", FILE, tuple(rules))]
