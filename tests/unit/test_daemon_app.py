"""The daemon wired in-process: job registration from config, endpoints, the feature seam."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import CollectorRegistry

from sre.config import Config, parse_config
from sre.daemon.app import Parts, build_features, section_notes
from sre.daemon.logs import JsonFormatter
from sre.daemon.process import Daemon
from sre.runtime.feature import Feature, FeatureError
from sre.runtime.jobs import JobSpec
from tests.helpers import free_port


def make_config(tmp: Path, **extra: Any) -> Config:
    data: dict[str, Any] = {
        "system": "t",
        "prometheus": {"url": "http://127.0.0.1:9"},
        "runbooks": {"base_url": "http://x/"},
        "services": [
            {
                "name": "api",
                "namespace": "ns",
                "health": {
                    "url": f"tcp://127.0.0.1:{free_port()}",
                    "interval": "1s",
                    "timeout": "1s",
                },
            },
            {"name": "web", "namespace": "ns"},
        ],
        "daemon": {
            "listen": f"127.0.0.1:{free_port()}",
            "state": f"sqlite:///{tmp}/state.db",
            "misfire_grace": "45s",
            "shutdown_timeout": "2s",
            "webhook_token_env": None,  # the Alertmanager receiver off (issue 4)
        },
    }
    data.update(extra)
    return parse_config(data)


class Flaky(Feature):
    """A feature as the real ones are written: one failing job, one good job, one route."""

    name = "flaky"

    def __init__(self, parts: Parts) -> None:
        self.store = parts.store
        self.probes = parts.on_probe_start
        self.started = self.stopped = False
        self.good_runs = 0

    def jobs(self) -> Sequence[JobSpec]:
        return [
            JobSpec("flaky.broken", self.broken, IntervalTrigger(seconds=0.2)),
            JobSpec("flaky.good", self.good, IntervalTrigger(hours=1), run_at_start=True),
        ]

    def routes(self) -> Sequence[web.RouteDef]:
        return [web.get("/flaky", self.handler)]

    async def broken(self) -> None:
        raise RuntimeError("a bug in a job")

    async def good(self) -> None:
        self.good_runs += 1
        await self.store.run(self.store.audit_add, "flaky", "x", {"run": self.good_runs})

    async def handler(self, _: web.Request) -> web.Response:
        return web.json_response({"runs": self.good_runs})

    async def start(self) -> None:
        self.started = True

    async def stop(self, timeout: float) -> None:
        self.stopped = True


async def get(port: int, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}") as resp,
    ):
        return resp.status, await resp.text()


def test_jobs_registered_with_the_shared_policy_and_engines_per_interval(tmp_path: Path) -> None:
    probes = [
        {
            "name": f"p{i}",
            "url": f"tcp://127.0.0.1:{free_port()}",
            "interval": "1s",
            "timeout": "500ms",
        }
        for i in range(5)
    ]
    probes.append({"name": "slow", "url": "tcp://127.0.0.1:1", "interval": "30s"})
    cfg = make_config(tmp_path, probes=probes)

    async def go() -> None:
        daemon = Daemon(cfg, "sha", registry=CollectorRegistry())
        await daemon.start()
        try:
            jobs = {job.id: job for job in daemon.scheduler.get_jobs()}
            # probes are engines, not jobs; the prometheus section adds the retention check
            assert set(jobs) == {"store.maintenance", "prometheus.retention", "deploys.prune"}
            job = jobs["store.maintenance"]
            assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 45)
            engines = next(f for f in daemon.features if f.name == "probes").engines  # type: ignore[attr-defined]
            assert sorted((e.label, len(e.targets)) for e in engines) == [("1s", 6), ("30s", 1)]
        finally:
            await daemon.stop()

    asyncio.run(go())


def test_endpoints_readiness_and_a_feature_through_the_seam(tmp_path: Path) -> None:
    built: list[Flaky] = []

    def features(parts: Parts) -> list[Feature]:
        built.append(Flaky(parts))
        return [*build_features(parts), built[-1]]

    cfg = make_config(tmp_path)
    registry = CollectorRegistry()

    async def go() -> None:
        daemon = Daemon(cfg, "abc123", registry=registry, features=features)
        port = cfg.daemon.host_port[1]
        assert await daemon.ready() == "scheduler not running"
        await daemon.start()
        feature = built[0]
        assert feature.started
        assert await get(port, "/healthz") == (200, "ok\n")
        assert await get(port, "/readyz") == (200, "ready\n")
        assert await get(port, "/flaky") == (200, json.dumps({"runs": 1}))
        await asyncio.sleep(0.7)  # several runs of the broken job
        status, text = await get(port, "/metrics")
        assert status == 200
        assert 'sre_config_info{sha256="abc123"} 1.0' in text
        assert "sre_build_info{version=" in text
        broken = registry.get_sample_value(
            "sre_job_runs_total", {"job": "flaky.broken", "outcome": "failure"}
        )
        assert broken is not None and broken >= 2
        assert feature.good_runs == 1  # run_at_start
        assert (
            registry.get_sample_value(
                "sre_job_runs_total", {"job": "flaky.good", "outcome": "success"}
            )
            == 1
        )
        assert await get(port, "/healthz") == (200, "ok\n")  # still alive
        assert [r.data for r in daemon.store.audit_list("flaky")] == [{"run": 1}]
        daemon.stopping = True
        assert await daemon.ready() == "shutting down"
        status, text = await get(port, "/readyz")
        assert (status, text) == (503, "not ready: shutting down\n")
        await daemon.stop()
        assert feature.stopped and not daemon.store.is_open
        assert await daemon.ready() is not None

    asyncio.run(go())


def test_absent_sections_are_named_once(tmp_path: Path) -> None:
    notes = section_notes(make_config(tmp_path))
    assert any(n.startswith("slack: section absent") and "console sink" in n for n in notes)
    for section in ("alertmanager", "aws", "cost", "backups", "probes", "rollback", "deploys"):
        assert sum(n.startswith(f"{section}:") for n in notes) == 1
    assert "probing services[].health only (1)" in " ".join(notes)
    full = make_config(
        tmp_path,
        alertmanager={"url": "http://am:9093"},
        slack={},
        aws={},
        cost={},
        backups=[{"name": "b", "max_age": "1d", "s3": {"bucket": "x"}}],
        probes=[{"name": "x", "url": "tcp://h:1"}],
        deploys={},
        grafana={"url": "http://grafana:3000"},
        services=[
            {
                "name": "api",
                "namespace": "ns",
                "rollback": {"target": {"kind": "deployment", "name": "api"}},
            }
        ],
    )
    assert section_notes(full) == []


def test_json_log_lines() -> None:
    record = logging.LogRecord("sre.x", logging.WARNING, __file__, 1, "hello %s", ("world",), None)
    entry = json.loads(JsonFormatter().format(record))
    assert (entry["level"], entry["logger"], entry["msg"]) == ("warning", "sre.x", "hello world")


def test_a_feature_can_refuse_to_start(tmp_path: Path) -> None:
    def features(parts: Parts) -> list[Feature]:
        raise FeatureError("alerts: SRE_WEBHOOK_TOKEN is unset (use --insecure-dev for local runs)")

    daemon = Daemon(make_config(tmp_path), "sha", registry=CollectorRegistry(), features=features)
    assert asyncio.run(daemon.serve()) == 2
    assert not daemon.store.is_open
