"""`make demo` driven end to end: 20% errors -> the alert fires -> the Slack message
arrives; the service dies -> ServiceDown arrives and inhibits its error alert; Alertmanager
delivers the Watchdog heartbeat to the daemon, which stays quiet about it.

The demo runs with ``--alert-for 10s``: every alert's ``for`` (2 minutes for these two) is
cut to 10 s, and nothing else changes (expressions, routes, inhibitions, the daemon). Two
2-minute waits were four of the test's ~4.5 minutes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read()) if "json" in resp.headers["Content-Type"] else resp.read()


def until(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f}s: {what}")
        time.sleep(2)


@pytest.mark.timeout(600)
def test_errors_alert_in_slack_and_a_dead_service_inhibits_its_symptoms(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sre.devtools.demo", "--workdir", str(tmp_path / "demo"),
         "--ready-file", str(ready), "--alert-for", "10s"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ),
    )  # fmt: skip
    try:
        until("the demo is up", ready.exists, 120)
        ports = json.loads(ready.read_text())
        page = f"http://127.0.0.1:{ports['page']}"
        am = f"http://127.0.0.1:{ports['alertmanager']}"

        def slack_says(text: str) -> Callable[[], bool]:
            return lambda: any(text in m["text"] for m in get(f"{page}/messages.json"))

        get(f"{page}/switch/errors/api-service/0.2")
        until("ServiceHighErrorRate in Slack", slack_says("ServiceHighErrorRate"), 120)
        assert not slack_says("Watchdog")()  # the heartbeat never reaches people

        get(f"{page}/switch/kill/api-service")
        until("ServiceDown in Slack", slack_says("ServiceDown"), 120)

        def inhibited() -> bool:
            for alert in get(f"{am}/api/v2/alerts"):
                labels = alert["labels"]
                if (
                    labels["alertname"] == "ServiceHighErrorRate"
                    and labels.get("service") == "api-service"
                ):
                    return bool(alert["status"]["inhibitedBy"])
            return False

        until("ServiceHighErrorRate inhibited by ServiceDown", inhibited, 60)

        def heartbeats() -> float:
            text = get(f"http://127.0.0.1:{ports['daemon']}/metrics").decode()
            line = next(x for x in text.splitlines() if x.startswith("sre_heartbeats_received"))
            return float(line.split()[1])

        until("the Watchdog heartbeat at the daemon", lambda: heartbeats() >= 1, 60)
        assert not slack_says("Watchdog")() and not slack_says("Alerting pipeline")()
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out.decode()
    assert b"sre demo is running" in out
