"""A test bench for driving one feature in-process: a config, a fresh registry, a temporary
store, a fixed clock, the notifier, the job runner, and builders for the cost and backup
features wired the way ``sre.daemon.app`` wires them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client import CollectorRegistry, Counter

from sre.clients import ClientError
from sre.clients.aws import AwsClient
from sre.config import Config, parse_config
from sre.daemon.app import Parts, build_features
from sre.features.backups.feature import BackupsFeature
from sre.features.cost.feature import CostFeature
from sre.runtime.feature import Feature
from sre.runtime.jobs import JobRunner
from sre.runtime.metrics import CoreMetrics, catalog_metric
from sre.runtime.notices import NOTICE_TOPIC, OutboxNotifier
from sre.runtime.store import Store
from sre.runtime.store.sqlite import open_sqlite


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


@dataclass
class Bench:
    config: Config
    store: Store
    registry: CollectorRegistry
    clock: FixedClock
    runner: JobRunner
    notices: OutboxNotifier
    aws_errors: Counter

    def aws_client(self, **tuning: Any) -> AwsClient:
        """The AWS client from ``aws``, failed attempts counted as the daemon counts them."""
        aws = self.config.aws
        assert aws is not None

        def counted(api: str, err: ClientError) -> None:
            self.aws_errors.labels(api=api, reason=err.reason).inc()

        return AwsClient(aws.region, aws.endpoint_url, on_error=counted, **tuning)

    def cost(self, client: AwsClient) -> CostFeature:
        assert self.config.cost is not None
        return CostFeature(
            self.config.cost,
            client,
            store=self.store,
            notices=self.notices,
            registry=self.registry,
            clock=self.clock,
        )

    def backups(self, client: AwsClient, **kwargs: Any) -> BackupsFeature:
        return BackupsFeature(
            self.config.backups,
            client,
            store=self.store,
            notices=self.notices,
            registry=self.registry,
            clock=self.clock,
            **kwargs,
        )


@contextlib.asynccontextmanager
async def bench(tmp: Path, clock: FixedClock, **sections: Any) -> AsyncIterator[Bench]:
    cfg = parse_config(config_dict(tmp, **sections))
    registry = CollectorRegistry()
    metrics = CoreMetrics(registry, "test", "sha")
    store = open_sqlite(tmp / "state.db", clock)
    try:
        yield Bench(
            config=cfg,
            store=store,
            registry=registry,
            clock=clock,
            runner=JobRunner(metrics, clock),
            notices=OutboxNotifier(store),
            aws_errors=catalog_metric(registry, "sre_aws_errors_total"),
        )
    finally:
        store.close()


async def built(b: Bench) -> list[Feature]:
    """The features the daemon would build from this bench's config, as ``app`` does."""
    async with aiohttp.ClientSession() as session:
        parts = Parts(
            config=b.config,
            store=b.store,
            registry=CollectorRegistry(),  # its own: the daemon registers every metric again
            clock=b.clock,
            session=session,
            runner=b.runner,
            notices=b.notices,
            env={},
            insecure_dev=True,
        )
        return build_features(parts)


def notices(b: Bench) -> list[dict[str, Any]]:
    """Every notice queued so far (payloads), oldest first."""
    return [item.payload for item in b.store.outbox_pending([NOTICE_TOPIC])]


def sample(b: Bench, name: str, **labels: str) -> float | None:
    return b.registry.get_sample_value(name, labels)
