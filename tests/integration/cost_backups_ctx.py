"""A FeatureContext for driving the cost and backup features in-process in tests: a fresh
registry, a temporary store and a fixed clock."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client import CollectorRegistry

from sre.config import parse_config
from sre.daemon.feature import FeatureContext
from sre.daemon.metrics import DaemonMetrics
from sre.daemon.store import Store
from sre.jobs.base import JobRunner


class FixedClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def config_dict(tmp: Path, **sections: Any) -> dict[str, Any]:
    return {
        "system": "t",
        "prometheus": {"url": "http://127.0.0.1:9"},
        "runbooks": {"base_url": "http://x/"},
        "services": [{"name": "api", "namespace": "ns"}],
        "daemon": {"state": f"sqlite:///{tmp}/state.db"},
        **sections,
    }


@contextlib.asynccontextmanager
async def feature_ctx(
    tmp: Path, clock: FixedClock, **sections: Any
) -> AsyncIterator[FeatureContext]:
    cfg = parse_config(config_dict(tmp, **sections))
    registry = CollectorRegistry()
    metrics = DaemonMetrics(registry, "test", "sha")
    store = Store(tmp / "state.db", clock)
    async with aiohttp.ClientSession() as session:
        try:
            yield FeatureContext(
                config=cfg,
                store=store,
                registry=registry,
                metrics=metrics,
                clock=clock,
                session=session,
                runner=JobRunner(metrics, clock),
            )
        finally:
            store.close()


def notices(ctx: FeatureContext) -> list[dict[str, Any]]:
    """Every notice queued so far (payloads), oldest first."""
    return [item.payload for item in ctx.store.outbox_due("notice", limit=1000)]


def sample(ctx: FeatureContext, name: str, **labels: str) -> float | None:
    return ctx.registry.get_sample_value(name, labels)
