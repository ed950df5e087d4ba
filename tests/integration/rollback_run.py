"""One run of the real daemon watching eight rollback scenarios at once (see
``test_rollback_daemon``): the module fixture and the helpers that read its results."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sre.devtools.synthetic import Prometheus, SyntheticService, calls, write_standins
from tests.helpers import free_port
from tests.integration.test_daemon_process import DaemonProcess

ERRORS = {"rps": 20.0, "error_ratio": 0.2}
ROLLED = ("sustained", "slow", "kube", "helmed")
REVISION = ["/bin/echo", '{"revision": "2", "previous": "1"}']


def service(name: str, target: dict[str, Any], **rollback: Any) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": "ns",
        "rollback": {
            "target": target,
            "error_rate_above": 0.05,
            "latency_p95_above_seconds": 1.0,
            "for": "8s",
            "cooldown": "0s",
            "timeout": "30s",
            **rollback,
        },
    }


def config(tmp: Path, prometheus_url: str, services: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "system": "itest",
        "prometheus": {"url": prometheus_url},
        "runbooks": {"base_url": "http://127.0.0.1/"},
        "services": services,
        "daemon": {
            "listen": f"127.0.0.1:{free_port()}",
            "state": f"sqlite:///{tmp}/state.db",
            "shutdown_timeout": "5s",
            "rollbacks": {
                "interval": "1s",
                "rate_window": "3s",
                "step": "1s",
                "no_verdict_warn_after": 5,
            },
        },
    }


def invocations(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@dataclass
class Run:
    tmp: Path
    cfg: dict[str, Any]
    prometheus: Prometheus
    env: dict[str, str]
    record: Path  # command executor invocations, one line each: "<service>"
    standins: Path  # kubectl/helm argv log
    metrics: str
    rollbacks: list[dict[str, Any]]
    filtered: list[dict[str, Any]]
    down_metrics: str
    down_calls: list[str]
    log: str


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp("rollback")
    record = tmp / "invocations"
    script = tmp / "rollback.sh"
    script.write_text(f'#!/bin/sh\necho "$1" >> {record}\necho "rolled back $1"\n')
    script.chmod(0o755)
    standins = tmp / "standins.jsonl"
    write_standins(tmp / "bin", standins, deployed_at=time.time())
    env = {
        "PATH": f"{tmp / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "SRE_WEBHOOK_TOKEN": "itest-token",
    }

    def command(name: str, **kw: Any) -> dict[str, Any]:
        target = {"kind": "command", "argv": [str(script), name], "revision_argv": REVISION}
        return service(name, target, **kw)

    services = [
        command("sustained"),
        command("spike"),
        command("slow"),
        command("idle"),
        command("broken"),
        command("dry", dry_run=True),
        service("kube", {"kind": "deployment", "name": "kube"}),
        service("helmed", {"kind": "helm", "release": "helmed-rel"}),
    ]
    with SyntheticService() as syn:
        for name in ("sustained", "dry", "kube", "helmed", "down"):
            syn.set(name, **ERRORS)
        syn.set("spike", rps=20.0)
        syn.set("slow", rps=20.0, latency=2.0)
        syn.set("idle", rps=0.0)
        syn.set("broken", rps=20.0, nan=True)
        with Prometheus(tmp, [syn.target]) as prom:
            cfg = config(tmp, prom.url, services)
            down_tmp = tmp / "down"
            down_tmp.mkdir()
            down_cfg = config(down_tmp, f"http://127.0.0.1:{free_port()}", [command("down")])
            daemon = DaemonProcess(tmp, cfg, env=env)
            down = DaemonProcess(down_tmp, down_cfg, env=env)
            daemon.wait_ready()
            down.wait_ready()
            started = time.monotonic()
            spike_end = None
            deadline = started + 90
            while time.monotonic() < deadline:
                if spike_end is None and time.monotonic() - started > 12:
                    syn.set("spike", error_ratio=0.5)
                    time.sleep(2)
                    syn.set("spike", error_ratio=0.0)
                    spike_end = time.monotonic()
                done = set(invocations(record)) | {c[0] for c in calls(standins) if c[0] != "get"}
                if spike_end and {"sustained", "slow", "rollout", "rollback"} <= done:
                    break
                time.sleep(0.5)
            assert spike_end is not None
            # Long enough after the spike for it to have shown (it must not) and for a
            # second rollback of anything to have happened (it must not either).
            time.sleep(max(4.0, 12 - (time.monotonic() - spike_end)))
            metrics = daemon.get("/metrics")[1]
            rollbacks = json.loads(daemon.get("/rollbacks")[1])
            filtered = json.loads(daemon.get("/rollbacks?service=kube&limit=1")[1])
            down_metrics = down.get("/metrics")[1]
            assert daemon.stop() == 0, daemon.output()
            assert down.stop() == 0, down.output()
            yield Run(
                tmp=tmp,
                cfg=cfg,
                prometheus=prom,
                env=env,
                record=record,
                standins=standins,
                metrics=metrics,
                rollbacks=rollbacks,
                filtered=filtered,
                down_metrics=down_metrics,
                down_calls=invocations(down_tmp / "invocations"),
                log=daemon.output(),
            )


def sample(metrics: str, name: str, **labels: str) -> float | None:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in metrics.splitlines():
        if line.startswith(f"{name}{{"):
            got = ",".join(sorted(line[len(name) + 1 : line.rindex("}")].split(",")))
            if got == want:
                return float(line.rsplit(" ", 1)[1])
    return None


def decisions(run: Run, name: str, action: str) -> list[dict[str, Any]]:
    return [
        r
        for r in run.rollbacks
        if r["service"] == name and r["phase"] == "decision" and r["action"] == action
    ]
