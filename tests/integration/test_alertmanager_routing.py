"""The rendered Alertmanager configuration in a real Alertmanager (0.25 and 0.33): alerts
posted to /api/v2/alerts, and /api/v2/alerts says who inhibits whom."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from rules import all_groups
from sre.config import load_config
from sre.render import alertmanager
from sre.render.rulefiles import dump_yaml
from tests.helpers import find_binary, free_port, wait_for_http
from tests.helpers.alertmanager import rfc3339

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prometheus_versions")]
ROOT = Path(__file__).resolve().parents[2]


class RealAlertmanager:
    def __init__(self, tmp: Path, config: dict[str, Any]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        path = tmp / "alertmanager.yaml"
        path.write_text(dump_yaml(config))
        self.log = (tmp / "alertmanager.log").open("wb")
        self.proc = subprocess.Popen(
            [
                find_binary("prometheus-alertmanager"),
                f"--config.file={path}",
                f"--storage.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for_http(f"{self.url}/-/ready", timeout=30)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()

    def post(self, *alerts: dict[str, str]) -> None:
        import json
        import urllib.request

        body = [{"labels": labels, "startsAt": rfc3339(time.time() - 60)} for labels in alerts]
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=10).close()

    def states(self) -> dict[str, dict[str, Any]]:
        """alertname/service/datastore -> status (state, inhibitedBy) and receivers."""
        import json
        import urllib.request

        with urllib.request.urlopen(f"{self.url}/api/v2/alerts", timeout=10) as resp:
            found = json.load(resp)
        out = {}
        for alert in found:
            labels = alert["labels"]
            key = "/".join(
                labels.get(k, "") for k in ("alertname", "service", "datastore", "severity")
            )
            out[key] = {
                "state": alert["status"]["state"],
                "inhibitedBy": alert["status"]["inhibitedBy"],
                "receivers": sorted(r["name"] for r in alert["receivers"]),
            }
        return out


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[RealAlertmanager]:
    cfg = load_config(ROOT / "sre.yaml")
    alerts = {a.alert for g in all_groups(cfg) for a in g.alerts}
    config = alertmanager.config(cfg, alerts, secrets_dir=str(tmp_path / "secrets"))
    for relative in ("sre-webhook/token", "alertmanager-pagerduty/routing-key"):
        (tmp_path / "secrets" / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "secrets" / relative).write_text("test-only\n")
    (tmp_path / "secrets" / "alertmanager-smtp").mkdir(exist_ok=True)
    (tmp_path / "secrets" / "alertmanager-smtp" / "password").write_text("test-only\n")
    # Notifications are not what is tested: nothing listens at these, and no group fires
    # within the test (group_wait 30s).
    started = RealAlertmanager(tmp_path, config)
    yield started
    started.stop()


def a(name: str, severity: str, **labels: str) -> dict[str, str]:
    return {"alertname": name, "severity": severity, "environment": "production", **labels}


def settled(manager: RealAlertmanager, expect: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Alertmanager marks inhibitions asynchronously (0.33 later than 0.25): poll until the
    states are the expected ones, or give up after 10 s and return what there is."""
    deadline = time.monotonic() + 10
    while True:
        states = manager.states()
        got = {k: states.get(k, {}).get("state") for k in expect}
        if got == expect or time.monotonic() > deadline:
            return states
        time.sleep(0.1)


def test_a_service_that_is_down_inhibits_its_own_symptoms_only(manager: RealAlertmanager) -> None:
    manager.post(
        a("ServiceDown", "critical", service="api-service"),
        a("ServiceHighErrorRate", "critical", service="api-service"),
        a("ServiceHighLatency", "warning", service="api-service"),
        a("ProbeFailing", "critical", service="api-service"),
        a("SLOErrorBudgetBurn1h5m", "critical", service="api-service"),
        # another service's symptoms are not hidden
        a("ServiceHighErrorRate", "critical", service="web-frontend"),
    )
    states = settled(
        manager,
        {
            "ServiceDown/api-service//critical": "active",
            "ServiceHighErrorRate/api-service//critical": "suppressed",
            "ServiceHighLatency/api-service//warning": "suppressed",
            "ProbeFailing/api-service//critical": "suppressed",
            "SLOErrorBudgetBurn1h5m/api-service//critical": "suppressed",
            "ServiceHighErrorRate/web-frontend//critical": "active",
        },
    )
    down = states["ServiceDown/api-service//critical"]
    assert down["state"] == "active"
    assert sorted(down["receivers"]) == ["pagerduty", "slack"]
    for name, severity in (
        ("ServiceHighErrorRate", "critical"),
        ("ServiceHighLatency", "warning"),
        ("ProbeFailing", "critical"),
        ("SLOErrorBudgetBurn1h5m", "critical"),
    ):
        state = states[f"{name}/api-service//{severity}"]
        assert state["state"] == "suppressed", name
        assert len(state["inhibitedBy"]) == 1, name
    assert states["ServiceHighErrorRate/web-frontend//critical"]["state"] == "active"


def test_critical_inhibits_warning_of_the_same_alert_and_service(
    manager: RealAlertmanager,
) -> None:
    manager.post(
        a("QueueBacklogHigh", "critical", service="q"),
        a("QueueBacklogHigh", "warning", service="q"),
        a("QueueBacklogHigh", "warning", service="other"),
    )
    states = settled(
        manager,
        {
            "QueueBacklogHigh/q//critical": "active",
            "QueueBacklogHigh/q//warning": "suppressed",
            "QueueBacklogHigh/other//warning": "active",
        },
    )
    assert states["QueueBacklogHigh/q//critical"]["state"] == "active"
    assert states["QueueBacklogHigh/q//warning"]["state"] == "suppressed"
    assert states["QueueBacklogHigh/other//warning"]["state"] == "active"
    assert states["QueueBacklogHigh/other//warning"]["receivers"] == ["dev-email", "slack"]


def test_a_datastore_that_is_down_inhibits_its_connection_alerts(
    manager: RealAlertmanager,
) -> None:
    manager.post(
        a("PostgresDown", "critical", datastore="postgres"),
        a("PostgresConnectionsNearMax", "warning", datastore="postgres"),
        a("ProbeFailing", "critical", service="postgres"),
        # Redis is up: its alerts and probes still notify
        a("RedisMemoryHigh", "warning", datastore="redis"),
        a("ProbeFailing", "critical", service="redis"),
    )
    states = settled(
        manager,
        {
            "PostgresDown//postgres/critical": "active",
            "PostgresConnectionsNearMax//postgres/warning": "suppressed",
            "ProbeFailing/postgres//critical": "suppressed",
            "RedisMemoryHigh//redis/warning": "active",
            "ProbeFailing/redis//critical": "active",
        },
    )
    assert states["PostgresDown//postgres/critical"]["state"] == "active"
    assert states["PostgresConnectionsNearMax//postgres/warning"]["state"] == "suppressed"
    assert states["ProbeFailing/postgres//critical"]["state"] == "suppressed"
    assert states["RedisMemoryHigh//redis/warning"]["state"] == "active"
    assert states["ProbeFailing/redis//critical"]["state"] == "active"


def test_watchdog_reaches_only_the_heartbeat(manager: RealAlertmanager) -> None:
    manager.post(a("Watchdog", "info"))
    states = settled(manager, {"Watchdog///info": "active"})
    assert states["Watchdog///info"]["receivers"] == ["slack-heartbeat"]


def test_a_failing_route_test_fails_the_render(tmp_path: Path) -> None:
    """A team's promise that routing breaks makes `python -m sre.render` exit 1, naming it."""
    import sys

    text = (ROOT / "sre.yaml").read_text()
    broken = text.replace("      receivers: [pagerduty, slack]\n", "      receivers: [slack]\n", 1)
    assert broken != text
    (tmp_path / "sre.yaml").write_text(broken)
    proc = subprocess.run(
        [sys.executable, "-m", "sre.render", "--config", str(tmp_path / "sre.yaml"),
         "--out", str(tmp_path / "build"), "--skip-promtool"],
        capture_output=True, text=True, cwd=ROOT, timeout=240, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert (
        "[amtool-routes] production critical pages and reaches Slack: {alertname="
        '"ServiceHighErrorRate", environment="production", service="api-service", '
        'severity="critical"} reaches pagerduty, slack, expected slack'
    ) in proc.stderr
    assert loaded_yaml(tmp_path / "build" / "alertmanager" / "alertmanager.yaml")["route"]


def loaded_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data
