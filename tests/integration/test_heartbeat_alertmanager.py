"""The rendered Alertmanager configuration in a real Alertmanager (0.25 and 0.33) talking to
the real daemon process, the local Slack server and the local PagerDuty Events v2 server:
an alert and the Watchdog heartbeat from each version are accepted (0.33's webhooks carry
``notification_reason``), and when the heartbeat stops (Alertmanager down) Slack and
PagerDuty are told once, and when it resumes, that it is back (PagerDuty resolved with the
trigger's dedup_key). Intervals are seconds: heartbeat every 1s, max_silence 8s."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rules import all_groups
from sre.config import parse_config
from sre.devtools.fake_pagerduty import FakePagerDuty
from sre.devtools.fake_slack import FakeSlack
from sre.render import alertmanager
from sre.render.rulefiles import dump_yaml
from tests.helpers import free_port
from tests.helpers.alertmanager import Alertmanager
from tests.helpers.daemon import DaemonProcess, base_config
from tests.helpers.versions import BinarySet

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prometheus_versions")]

TOKEN = "itest-heartbeat-token-9d2"
PD_KEY = "p" * 32
SILENCE = 8.0
SILENT = "Alerting pipeline silent"
BACK = "Alerting pipeline back"


@dataclass
class Pipeline:
    slack: FakeSlack
    pagerduty: FakePagerDuty
    daemon: DaemonProcess
    am: Alertmanager
    rendered: Path
    tmp: Path

    def restart_alertmanager(self) -> None:
        self.am = Alertmanager.from_file(self.tmp / "am", self.rendered, port=self.am.port)

    def metric(self, name: str) -> float:
        for line in self.daemon.get("/metrics")[1].splitlines():
            if line.startswith(f"{name} "):
                return float(line.split()[1])
        raise AssertionError(f"{name} not exported")

    def titles(self, prefix: str) -> list[str]:
        return [m.text for m in self.slack.top_level() if m.text.startswith(prefix)]


def until(what: str, check: Callable[[], bool], timeout: float, pipeline: Pipeline) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"not within {timeout:.0f}s: {what}\ndaemon log:\n{pipeline.daemon.output()}\n"
                f"alertmanager log:\n{pipeline.am.log_path.read_text()}"
            )
        time.sleep(0.2)


def daemon_config(tmp: Path, port: int, slack: FakeSlack, pd: FakePagerDuty) -> dict[str, Any]:
    config = base_config(
        tmp,
        slack={"base_url": slack.base_url, "routes": [
            {"match": {"severity": "critical"}, "channel": "#alerts"},
            {"channel": "#devops-alerts"},
        ]},
        alertmanager={
            "url": "http://127.0.0.1:9",  # the reconcile job is not what is tested here
            "secrets_dir": str(tmp / "secrets"),
            "receivers": [
                {"name": "slack", "sre_daemon": {"url": f"http://127.0.0.1:{port}"}},
                # Records Alertmanager's own body, to see what this version sends.
                {"name": "capture", "webhook": {"url": slack.webhook_url}},
            ],
            "route": {
                "receiver": "slack",
                "group_by": ["alertname"],
                "group_wait": "1s",
                "group_interval": "1s",
                "repeat_interval": "1h",
                "routes": [
                    {"receiver": "capture", "matchers": ['severity="critical"'], "continue": True},
                    {"receiver": "slack", "matchers": ['severity="critical"']},
                ],
            },
            "heartbeat": {
                "receiver": "slack",
                "interval": "1s",
                "max_silence": f"{SILENCE:g}s",
                "pagerduty_routing_key_env": "PD_ROUTING_KEY",
                "pagerduty_url": pd.url,
            },
        },
    )  # fmt: skip
    config["daemon"]["listen"] = f"127.0.0.1:{port}"
    return config


@pytest.fixture(scope="module")
def pipeline(
    tmp_path_factory: pytest.TempPathFactory, prometheus_versions: BinarySet
) -> Iterator[Pipeline]:
    """One pipeline per version (it depends on the version fixture, so it is built again)."""
    tmp = tmp_path_factory.mktemp("heartbeat")
    port = free_port()
    with FakeSlack() as slack, FakePagerDuty(routing_keys=(PD_KEY,)) as pd:
        config = daemon_config(tmp, port, slack, pd)
        cfg = parse_config(config)
        alerts = {a.alert for g in all_groups(cfg) for a in g.alerts}
        rendered = tmp / "alertmanager.yaml"
        rendered.write_text(dump_yaml(alertmanager.config(cfg, alerts)))
        (tmp / "secrets" / "sre-webhook").mkdir(parents=True)
        (tmp / "secrets" / "sre-webhook" / "token").write_text(TOKEN + "\n")
        env = {"SRE_WEBHOOK_TOKEN": TOKEN, "SLACK_BOT_TOKEN": slack.token, "PD_ROUTING_KEY": PD_KEY}
        daemon = DaemonProcess(tmp, config, env=env)
        daemon.wait_ready()
        am = Alertmanager.from_file(tmp / "am", rendered)
        am.fire("Watchdog", severity="info")
        started = Pipeline(slack, pd, daemon, am, rendered, tmp)
        try:
            yield started
        finally:
            started.am.stop()
            daemon.stop()
    assert PD_KEY not in daemon.output() and TOKEN not in daemon.output()


def test_an_alert_from_this_alertmanager_reaches_slack(
    pipeline: Pipeline, prometheus_versions: BinarySet
) -> None:
    pipeline.am.fire("ServiceHighErrorRate", severity="critical", service="api")
    until("the alert in #alerts", lambda: any(
        "ServiceHighErrorRate" in m.text for m in pipeline.slack.top_level("#alerts")
    ), 30, pipeline)  # fmt: skip
    calls = pipeline.slack.posts("webhook")
    agent = f"Alertmanager/{prometheus_versions.alertmanager}."
    assert calls and calls[0].headers["User-Agent"].startswith(agent)
    body = calls[0].body
    assert body["version"] == "4"
    # What the daemon accepted, as this version sends it: 0.33 adds notification_reason.
    newer = prometheus_versions.alertmanager != "0.25"
    assert ("notification_reason" in body) is newer, sorted(body)


def test_the_heartbeat_arrives_and_nobody_is_told(pipeline: Pipeline) -> None:
    until("heartbeats", lambda: pipeline.metric("sre_heartbeats_received_total") >= 3, 30,
          pipeline)  # fmt: skip
    assert pipeline.metric("sre_heartbeat_missing") == 0
    assert pipeline.titles(SILENT) == [] and pipeline.pagerduty.events == []
    assert not any("Watchdog" in m.text for m in pipeline.slack.top_level())


def test_a_silent_pipeline_is_told_once_and_its_return_once(pipeline: Pipeline) -> None:
    pipeline.am.stop()  # the pipeline breaks: no more Watchdog
    stopped = time.monotonic()
    until("the silence in #alerts", lambda: len(pipeline.titles(SILENT)) == 1, 30, pipeline)
    assert time.monotonic() - stopped >= SILENCE - 1.5  # not before max_silence
    assert [m.channel for m in pipeline.slack.top_level() if m.text.startswith(SILENT)] == [
        "#alerts"
    ]
    pipeline.pagerduty.wait_for(lambda s: len(s.accepted("trigger")) == 1)
    assert pipeline.metric("sre_heartbeat_missing") == 1
    time.sleep(3)  # several checks later: still told once
    assert len(pipeline.titles(SILENT)) == 1 and len(pipeline.pagerduty.accepted()) == 1

    pipeline.restart_alertmanager()  # Alertmanager keeps no alerts: Prometheus sends again
    pipeline.am.fire("Watchdog", severity="info")
    until("'back' in Slack", lambda: len(pipeline.titles(BACK)) == 1, 30, pipeline)
    pipeline.pagerduty.wait_for(
        lambda s: [e.action for e in s.accepted()] == ["trigger", "resolve"]
    )
    trigger, resolve = pipeline.pagerduty.accepted()
    assert trigger.dedup_key == resolve.dedup_key and pipeline.pagerduty.open_alerts() == []
    assert pipeline.metric("sre_heartbeat_missing") == 0
    time.sleep(2)
    assert len(pipeline.titles(BACK)) == 1 and len(pipeline.titles(SILENT)) == 1
