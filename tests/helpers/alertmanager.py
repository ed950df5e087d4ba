"""A real Alertmanager for tests (Debian's ``prometheus-alertmanager`` on loopback), and
builders for version 4 webhook bodies.

``Alertmanager(tmp, receivers_yaml)`` writes a config whose route sends everything to the
first receiver with short ``group_wait`` / ``group_interval``, starts the binary with
``--cluster.listen-address=`` (no 0.0.0.0:9094) and its storage in ``tmp``, and waits
until it is ready. ``fire`` / ``resolve`` post alerts through API v2.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import find_binary, free_port, wait_for_http


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def alert_json(
    name: str = "ServiceHighErrorRate",
    *,
    fingerprint: str = "fp1",
    status: str = "firing",
    starts_at: str = "2026-11-26T20:00:00Z",
    severity: str = "critical",
    **labels: str,
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": name, "severity": severity, **labels},
        "annotations": {
            "summary": f"{name} summary",
            "description": f"{name} on {labels.get('service', 'x')}",
            "runbook_url": f"https://runbooks.example/{name}.md",
        },
        "startsAt": starts_at,
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-26T20:12:00Z",
        "generatorURL": "http://prometheus.example/graph?g0.expr=up",
        "fingerprint": fingerprint,
    }


def webhook(
    alerts: list[dict[str, Any]], *, group_key: str = '{}:{alertname="ServiceHighErrorRate"}'
) -> dict[str, Any]:
    firing = any(a["status"] == "firing" for a in alerts)
    common = dict(alerts[0]["labels"])
    for alert in alerts[1:]:
        common = {k: v for k, v in common.items() if alert["labels"].get(k) == v}
    return {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": "firing" if firing else "resolved",
        "receiver": "sre",
        "groupLabels": {"alertname": common.get("alertname", "")},
        "commonLabels": common,
        "commonAnnotations": {"summary": alerts[0]["annotations"]["summary"]},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": alerts,
    }


class Alertmanager:
    def __init__(self, tmp: Path, receivers: list[dict[str, Any]], **route: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"resolve_timeout": "1m"},
            "route": {
                "receiver": receivers[0]["name"],
                "group_by": ["alertname"],
                "group_wait": "100ms",
                "group_interval": "1s",
                "repeat_interval": "1h",
                **route,
            },
            "receivers": receivers,
        }
        tmp.mkdir(parents=True, exist_ok=True)
        path = tmp / "alertmanager.yml"
        path.write_text(yaml.safe_dump(config))
        self._start(tmp, path)

    @classmethod
    def from_file(cls, tmp: Path, path: Path, port: int | None = None) -> Alertmanager:
        """An Alertmanager running the configuration at ``path`` (a rendered one, say);
        ``port`` to start it again where an earlier one listened."""
        started = cls.__new__(cls)
        started.port = port or free_port()
        started.url = f"http://127.0.0.1:{started.port}"
        started._start(tmp, path)
        return started

    def _start(self, tmp: Path, path: Path) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.log_path = tmp / "alertmanager.log"
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                find_binary("prometheus-alertmanager"),
                f"--config.file={path}",
                f"--storage.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_http(f"{self.url}/-/ready", timeout=30)
        except TimeoutError:
            self.stop()
            raise RuntimeError(
                f"Alertmanager did not start:\n{self.log_path.read_text()}"
            ) from None

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self._log.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            text = resp.read()
        return json.loads(text) if text else None

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        self._call("POST", "/api/v2/alerts", alerts)

    def fire(self, name: str, **labels: str) -> None:
        self.post_alerts(
            [
                {
                    "labels": {"alertname": name, **labels},
                    "annotations": {"summary": f"{name} summary", "description": f"{name} desc"},
                    "generatorURL": "http://prometheus.example/graph",
                    "startsAt": rfc3339(time.time()),
                }
            ]
        )

    def resolve(self, name: str, **labels: str) -> None:
        now = time.time()
        self.post_alerts(
            [
                {
                    "labels": {"alertname": name, **labels},
                    "annotations": {"summary": f"{name} summary", "description": f"{name} desc"},
                    "startsAt": rfc3339(now - 60),
                    "endsAt": rfc3339(now - 1),
                }
            ]
        )

    def alerts(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/api/v2/alerts"))

    def silences(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/api/v2/silences"))
