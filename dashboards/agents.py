"""4. AI agents: throughput and failures per agent, processing time, queues, retries."""

from __future__ import annotations

from typing import Any

from dashboards import _panels as P
from sre import catalog as C
from sre import promql
from sre.config import Config

SLUG = "agents"
_AGENT = 'agent=~"$agent"'
_RATE = "[$__rate_interval]"


def build(cfg: Config) -> Any:
    a = cfg.selectors.agents

    def raw(name: str) -> str:
        return promql.metric(name, a, _AGENT)

    queue_len = promql.metric(C.QUEUE_LENGTH, a)
    queue_age = promql.metric(C.QUEUE_OLDEST_AGE, a)
    panels = [
        P.row("Throughput"),
        P.stat(
            "Tasks processed",
            "Tasks the selected agents finished (success or failure) in the time range.",
            "short",
            [P.q(f"sum(increase({raw(C.AGENT_TASKS_PROCESSED)}[$__range]))")],
            graph=False,
        ),
        P.stat(
            "Tasks failed",
            "Tasks of the selected agents that ended in failure in the time range.",
            "short",
            [P.q(f"sum(increase({raw(C.AGENT_TASKS_FAILED)}[$__range]))")],
            steps=((P.GREEN, None), (P.RED, 1)),
            graph=False,
        ),
        P.stat(
            "Failure ratio",
            "Failed / processed tasks of the selected agents in the time range.",
            "percentunit",
            [
                P.q(
                    f"sum(increase({raw(C.AGENT_TASKS_FAILED)}[$__range]))"
                    f" / sum(increase({raw(C.AGENT_TASKS_PROCESSED)}[$__range]))"
                )
            ],
            steps=(
                (P.GREEN, None),
                (P.RED, cfg.thresholds.agent_failure_ratio_above),
            ),
            graph=False,
        ),
        P.stat(
            "Retries",
            "Task attempts of the selected agents that were retries, in the time range.",
            "short",
            [P.q(f"sum(increase({raw(C.AGENT_TASK_RETRIES)}[$__range]))")],
            graph=False,
        ),
        P.timeseries(
            "Tasks processed per agent",
            "Tasks finished per second by each agent (5m rate).",
            "ops",
            [P.q(f"sum by (agent) ({promql.metric(C.AGENT_PROCESSED_RATE, _AGENT)})", "{{agent}}")],
            w=8,
        ),
        P.timeseries(
            "Tasks failed per agent",
            "Failed tasks per second by agent and failure reason.",
            "ops",
            [
                P.q(
                    f"sum by (agent, reason) (rate({raw(C.AGENT_TASKS_FAILED)}{_RATE}))",
                    "{{agent}} {{reason}}",
                )
            ],
            w=8,
            stack=True,
        ),
        P.timeseries(
            "Failure ratio per agent",
            "Share of each agent's tasks that failed (5m). The red line is the alert threshold.",
            "percentunit",
            [P.q(f"max by (agent) ({promql.metric(C.AGENT_FAILURE_RATIO, _AGENT)})", "{{agent}}")],
            w=8,
            min_=0,
            steps=((P.GREEN, None), (P.RED, cfg.thresholds.agent_failure_ratio_above)),
            threshold_style="line",
        ),
        P.row("Processing time"),
        P.heatmap(
            "Processing time distribution",
            f"Tasks per second in each duration bucket of {C.AGENT_TASK_DURATION}.",
            "ops",
            "s",
            P.Query(
                f"sum by (le) (rate({raw(C.AGENT_TASK_DURATION + '_bucket')}{_RATE}))",
                format="heatmap",
            ),
        ),
        P.timeseries(
            "Processing time p95 per agent",
            "95th percentile task duration per agent (5m). The red line is the alert threshold.",
            "s",
            [P.q(f"max by (agent) ({promql.metric(C.AGENT_P95, _AGENT)})", "{{agent}}")],
            min_=0,
            steps=((P.GREEN, None), (P.RED, cfg.thresholds.agent_p95_seconds_above)),
            threshold_style="line",
        ),
        P.row("Queues and retries"),
        P.timeseries(
            "Queue length",
            "Tasks waiting in each Redis queue.",
            "short",
            [P.q(f"sum by (queue) ({queue_len})", "{{queue}}")],
            w=8,
            min_=0,
        ),
        P.timeseries(
            "Oldest task age",
            "Age of the oldest waiting task in each queue: how far behind the workers are.",
            "s",
            [P.q(f"max by (queue) ({queue_age})", "{{queue}}")],
            w=8,
            min_=0,
        ),
        P.timeseries(
            "Retries per agent",
            "Task attempts per second that were retries, per agent.",
            "ops",
            [P.q(f"sum by (agent) (rate({raw(C.AGENT_TASK_RETRIES)}{_RATE}))", "{{agent}}")],
            w=8,
            min_=0,
        ),
    ]
    return P.dashboard(
        cfg,
        SLUG,
        "AI agents",
        "Agent throughput, failures, processing time, queue backlog and retries.",
        panels,
        variables=[P.variable("agent", "Agent", f"label_values({C.AGENT_PROCESSED_RATE}, agent)")],
    )
