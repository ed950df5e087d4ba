"""The rollback feature wired in-process for tests: a fake Prometheus (canned range
results), the real command executor (a recording script), a real store; a fake clock and
probe reader."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from sre.checks.probe import ProbeState
from sre.clients import ClientError
from sre.clients.helm import Helm
from sre.clients.kube import Kubectl
from sre.clients.prometheus import PrometheusClient, Series
from sre.config import Config, parse_config
from sre.features.rollback.feature import RollbackFeature
from sre.features.rollback.targets import target_for
from sre.features.rollback.triggers import Triggers
from sre.runtime.events import EVENT_TOPIC, EventLog
from sre.runtime.ha import SOLO, Cluster
from sre.runtime.http import BearerToken
from sre.runtime.notices import OutboxNotifier
from sre.runtime.redact import Redactor
from sre.runtime.store.sqlite import open_sqlite

NOW = 1_800_000_000.0
AUDIT_TOKEN = "audit-token-1234"
AUDIT = {"Authorization": f"Bearer {AUDIT_TOKEN}"}
SECRET = "s3cr3t-value-in-env"  # a configured secret the rollback command prints


def services_in(query: str) -> list[str]:
    """The services a trigger query asks for: ``service="a"`` or ``service=~"a|b"``."""
    found = re.search(r'service=~?"([^"]*)"', query)
    return found.group(1).split("|") if found else []


def by_service(query: str, points: Iterable[tuple[float, float]]) -> list[Series]:
    """The same points for every service the query asks for, as ``sum by (service)`` would
    answer."""
    values = tuple(points)
    return [Series({"service": name}, values) for name in services_in(query)]


class FakePrometheus:
    """Answers each trigger query with a series of a constant value over the range for every
    service it asks for."""

    def __init__(self) -> None:
        self.error = 0.2
        self.latency = 0.1
        self.traffic = 10.0
        self.fail: ClientError | None = None
        self.queries: list[str] = []

    async def query_range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        self.queries.append(query)
        if self.fail is not None:
            raise self.fail
        if query.startswith("histogram_quantile"):
            value = self.latency
        elif "code=~" in query:
            value = self.error
        else:
            value = self.traffic
        n = int((end - start) // step) + 1
        return by_service(query, ((start + i * step, value) for i in range(n)))


class Probes:
    def __init__(self) -> None:
        self.states: list[ProbeState] = []

    async def for_service(self, service: str) -> list[ProbeState]:
        return [s for s in self.states if s.service == service]


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def make_config(tmp: Path, **rollback: Any) -> Config:
    tmp.mkdir(parents=True, exist_ok=True)
    engine = rollback.pop("engine", {})
    record = tmp / "calls"
    script = tmp / "rollback.sh"
    script.write_text(f'#!/bin/sh\necho "$@" >> {record}\n{rollback.pop("body", "")}\n')
    script.chmod(0o755)
    revision = tmp / "revision.json"
    revision.write_text(json.dumps({"revision": "2", "previous": "1", "deployed_at": NOW - 60}))
    target: dict[str, Any] = {"kind": "command", "argv": [str(script), "api"]}
    if rollback.pop("versioned", True):
        target["revision_argv"] = ["cat", str(revision)]
    return parse_config(
        {
            "system": "t",
            "prometheus": {"url": "http://127.0.0.1:9"},
            "runbooks": {"base_url": "http://r/"},
            "services": [
                {"name": "api", "namespace": "prod", "rollback": {"target": target, **rollback}},
                {"name": "web", "namespace": "prod"},
            ],
            "daemon": {
                "state": f"sqlite:///{tmp}/state.db",
                "rollbacks": {"no_verdict_warn_after": 3, **engine},
            },
        }
    )


class Harness:
    def __init__(self, tmp: Path, **rollback: Any) -> None:
        self.tmp = tmp
        self.cfg = make_config(tmp, **rollback)
        self.clock = Clock()
        self.store = open_sqlite(tmp / "state.db", self.clock)
        self.registry = CollectorRegistry()
        self.prom = FakePrometheus()
        self.probes = Probes()
        self.events = EventLog(self.store)
        self.cluster: Cluster = SOLO

    async def feature(self, session: aiohttp.ClientSession) -> RollbackFeature:
        """Wired as ``sre.daemon.app`` wires it, with a fake Prometheus."""
        prometheus: PrometheusClient = self.prom  # type: ignore[assignment]
        services = [s for s in self.cfg.services if s.rollback is not None]
        return RollbackFeature(
            self.cfg.services,
            self.cfg.daemon.rollbacks,
            targets={s.name: target_for(s, Kubectl(), Helm()) for s in services},
            triggers=Triggers(self.cfg, prometheus, self.probes),
            store=self.store,
            notices=OutboxNotifier(self.store),
            registry=self.registry,
            clock=self.clock,
            api_token=BearerToken(AUDIT_TOKEN, open_without=False),
            redactor=Redactor([SECRET]),
            events=self.events,
            cluster=self.cluster,
        )

    def calls(self) -> list[str]:
        path = self.tmp / "calls"
        return path.read_text().splitlines() if path.exists() else []

    def records(self) -> list[dict[str, Any]]:
        return [r.data for r in self.store.audit_list("rollback")]

    def notices(self) -> dict[str, Any]:
        with self.store.transaction() as tx:
            rows = tx.all("SELECT key, payload FROM outbox WHERE topic = 'notice'")
        return {r["key"]: json.loads(r["payload"]) for r in rows}

    def published(self) -> list[dict[str, Any]]:
        """The events the feature published, oldest first."""
        with self.store.transaction() as tx:
            rows = tx.all(
                "SELECT payload FROM outbox WHERE topic = :t ORDER BY id", {"t": EVENT_TOPIC}
            )
        return [json.loads(r["payload"]) for r in rows]

    def metric(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels)

    def go(self, body: Any) -> None:
        async def main() -> None:
            async with aiohttp.ClientSession() as session:
                feature = await self.feature(session)
                await body(feature)
                await feature.stop(5)

        asyncio.run(main())


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path)
    yield harness
    harness.store.close()


async def settle(feature: RollbackFeature) -> None:
    while feature.tasks:
        await asyncio.sleep(0.01)
