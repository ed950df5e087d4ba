"""The deploy gate end to end: ``python -m sre.daemon verify`` as a process, against a REAL
Prometheus scraping a synthetic service every second. Short windows (seconds) so that the
scenarios run side by side in about 15 s:

============ ======================================= =========================================
service      traffic                                  expected
============ ======================================= =========================================
clean        20 rps, no errors, healthy               exit 0 after the whole window
errors       20% 5xx                                   exit 1 at the first evaluation
unhealthy    clean traffic, health probe answers 500   exit 1 (health trigger)
idle         no requests                               exit 3, "no traffic"
clean        ... with its Prometheus stopped mid-way   exit 3, "Prometheus unreachable at ..."
============ ======================================= =========================================

At the same time the deploy script of docs/deploys.md runs, as written, for ``clean`` and
``errors`` (a ``kubectl`` stand-in records what it would do): the blue-green switch holds on
a pass and goes back on a fail.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from sre.devtools.synthetic import Prometheus, SyntheticService
from tests.helpers.daemon import ROOT
from tests.helpers.docs import split

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

FOR, RATE_WINDOW, INTERVAL = 4, 3, 1  # seconds: the first evaluation comes after FOR + RATE_WINDOW
WINDOW = 12


def config(prometheus_url: str, syn: SyntheticService) -> dict[str, Any]:
    def service(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "namespace": "ns",
            "health": {
                "url": f"http://{syn.target}/healthz/{name}",
                "interval": "1s",
                "timeout": "1s",
            },
            "rollback": {
                "target": {"kind": "command", "argv": ["/bin/false"]},
                "error_rate_above": 0.05,
                "latency_p95_above_seconds": 1.0,
                "health_failures": 3,
                "for": f"{FOR}s",
            },
        }

    return {
        "system": "itest",
        "prometheus": {"url": prometheus_url},
        "services": [service(n) for n in ("clean", "errors", "unhealthy", "idle")],
        "daemon": {
            "rollbacks": {
                "interval": f"{INTERVAL}s",
                "rate_window": f"{RATE_WINDOW}s",
                "step": "1s",
            }
        },
    }


def has_data(prometheus_url: str, service: str) -> bool:
    query = f'rate(http_requests_total{{service="{service}"}}[{RATE_WINDOW}s])'
    url = f"{prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=5) as resp:
        return '"result":[]' not in resp.read().decode()


def wait_for_data(prometheus_url: str, services: list[str]) -> None:
    """Samples before the start cover the first evaluation's rate window."""
    deadline = time.monotonic() + 30
    while not all(has_data(prometheus_url, s) for s in services):
        assert time.monotonic() < deadline, "Prometheus has no data from the synthetic service"
        time.sleep(0.5)
    time.sleep(RATE_WINDOW)


def deploy_script() -> str:
    """The deploy script docs/deploys.md shows."""
    blocks, _ = split(ROOT / "docs" / "deploys.md")
    (script,) = [b.body for b in blocks if b.lang == "bash" and "scripts/deploy.sh" in b.body]
    return script


class Script:
    """The docs' deploy script for ``service``, with a kubectl that records its arguments."""

    def __init__(self, tmp: Path, config: Path, service: str) -> None:
        self.log = tmp / f"kubectl-{service}.log"
        bin_dir = tmp / "bin"
        if not bin_dir.exists():
            bin_dir.mkdir()
            (bin_dir / "kubectl").write_text('#!/bin/sh\nprintf "%s\\n" "$*" >> "$KUBECTL_LOG"\n')
            (bin_dir / "kubectl").chmod(0o755)
            (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
            (bin_dir / "python").chmod(0o755)
            (tmp / "deploy.sh").write_text(deploy_script())
        env = {
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "KUBECTL_LOG": str(self.log),
            "IMAGE": f"registry.example.com/{service}:1.4.2",
            "SERVICE": service,
            "NS": "ns",
            "CONFIG": str(config),
            "WINDOW": f"{WINDOW}s",
        }
        self.proc = subprocess.Popen(
            ["bash", str(tmp / "deploy.sh")],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def result(self) -> tuple[int, list[str], str]:
        out, _ = self.proc.communicate(timeout=60)
        calls = self.log.read_text().splitlines() if self.log.exists() else []
        return self.proc.returncode, calls, out


class Gate:
    def __init__(self, path: Path, service: str, window: int = WINDOW) -> None:
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sre.daemon", "verify", "--config", str(path)]
            + ["--service", service, "--for", f"{window}s"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def result(self) -> tuple[int, str, str, float]:
        out, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, out, err, time.monotonic() - self.started


@pytest.mark.usefixtures("prometheus_versions")  # Debian 12's Prometheus and 3.5
def test_the_gate_passes_fails_and_gives_no_verdict(tmp_path: Path) -> None:
    with SyntheticService() as syn:
        syn.set("clean", rps=20.0)
        syn.set("errors", rps=20.0, error_ratio=0.2)
        syn.set("unhealthy", rps=20.0, healthy=False)
        syn.set("idle", rps=0.0)
        stopped_dir = tmp_path / "stopped"
        stopped_dir.mkdir()
        with (
            Prometheus(tmp_path, [syn.target]) as prom,
            Prometheus(stopped_dir, [syn.target]) as doomed,
        ):
            path = tmp_path / "sre.yaml"
            path.write_text(yaml.safe_dump(config(prom.url, syn)))
            doomed_path = tmp_path / "doomed.yaml"
            doomed_path.write_text(yaml.safe_dump(config(doomed.url, syn)))
            wait_for_data(prom.url, ["clean", "errors", "unhealthy", "idle"])
            wait_for_data(doomed.url, ["clean"])
            gates = {
                "clean": Gate(path, "clean"),
                "errors": Gate(path, "errors", window=60),
                "unhealthy": Gate(path, "unhealthy", window=60),
                "idle": Gate(path, "idle"),
                "stopped": Gate(doomed_path, "clean"),
            }
            scripts = {name: Script(tmp_path, path, name) for name in ("clean", "errors")}
            time.sleep(3)
            doomed.stop()
            results = {name: gate.result() for name, gate in gates.items()}
            deployed = {name: script.result() for name, script in scripts.items()}

    code, out, err, took = results["clean"]
    assert code == 0, (out, err)
    assert out.startswith("PASS clean over 12s"), out
    assert "error_rate pass" in out and "latency pass" in out and "health pass" in out
    assert took >= WINDOW  # the whole window, not less
    # Progress lines while it waits: the plan, then one per evaluation.
    progress = [line for line in err.splitlines() if line.startswith("verify clean:")]
    assert len(progress) >= WINDOW - (FOR + RATE_WINDOW), err
    assert "collecting samples after the start, first evaluation at 7s" in err

    code, out, err, took = results["errors"]
    assert code == 1, (out, err)
    assert out.startswith("FAIL errors after "), out
    # One line: the reason and the numbers.
    assert len(out.strip().splitlines()) == 1
    assert re.search(r"error_rate fail: .*\(min 0\.\d+, max 0\.\d+, threshold 0\.05\)", out), out
    after = float(out.split("after ")[1].split("s:")[0])
    assert after <= FOR + RATE_WINDOW + INTERVAL, out  # the first evaluation, or the next
    assert took < 60 / 2  # as soon as it failed, not at the end of its 60 s window

    code, out, err, _ = results["unhealthy"]
    assert code == 1, (out, err)
    assert "health fail" in out and "error_rate pass" in out, out

    code, out, err, _ = results["idle"]
    assert code == 3, (out, err)
    assert out.startswith("NO VERDICT idle after 12s"), out
    assert "no traffic, below 0.1 requests/s (error_rate, latency)" in out, out

    code, out, err, _ = results["stopped"]
    assert code == 3, (out, err)
    assert f"Prometheus unreachable at {doomed.url}" in out, out

    switch = "-n ns patch service/{0} --type merge -p "
    switch += '{{"spec":{{"selector":{{"app":"{0}","colour":"{1}"}}}}}}'
    code, calls, out = deployed["clean"]
    assert code == 0, out
    assert calls == [
        "-n ns set image deployment/clean-green clean=registry.example.com/clean:1.4.2",
        "-n ns rollout status deployment/clean-green --timeout=5m",
        switch.format("clean", "green"),
        "-n ns scale deployment/clean-blue --replicas=0",
    ]
    assert "registry.example.com/clean:1.4.2 is live on green" in out
    code, calls, out = deployed["errors"]
    assert code == 1, out
    assert calls[2:] == [switch.format("errors", "green"), switch.format("errors", "blue")]
    assert "verify exited 1: traffic is back on blue" in out
