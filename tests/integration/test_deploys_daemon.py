"""Deploy threads and annotations end to end: the REAL daemon process, a REAL Prometheus
scraping a synthetic service, a ``kubectl`` stand-in whose Deployment gets new ReplicaSets
during the test, the local Slack and the local Grafana.

* revision 1 is an hour old when the daemon starts: an annotation at its time, no thread;
* revision 2, clean traffic: one thread, rolling out, then verified after the watch window
  (its annotation is created but the answer is lost: kept, not created twice);
* revision 3 with 20% errors, while Grafana is down: its thread goes to rolled back
  (``kubectl rollout undo``), the revision the rollback returned to gets no thread;
* the daemon is SIGKILLed with the two annotations still queued; restarted, it creates
  them, once each, and posts no thread twice.

A second test: a silence from the Slack button (a real Alertmanager) is an annotation.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sre.devtools.fake_slack import FakeSlack, Message
from sre.devtools.synthetic import Prometheus, SyntheticService
from tests.helpers import free_port
from tests.helpers.alertmanager import Alertmanager
from tests.helpers.daemon import DaemonProcess, base_config
from tests.helpers.deploys import FakeCluster
from tests.helpers.fake_grafana import FakeGrafana
from tests.integration.test_alerts_alertmanager import SECRET, action, wait_calls

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
GRAFANA_TOKEN = "glsa-itest-deploys"
WATCH = 15
WEBHOOK_TOKEN = "itest-deploys-webhook-token"


def wait(what: str, done: Callable[[], bool], log: Callable[[], str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; daemon log:\n{log()}")
        time.sleep(0.2)


def config(
    tmp: Path, prometheus_url: str, slack: FakeSlack, grafana: FakeGrafana
) -> dict[str, Any]:
    data = base_config(
        tmp,
        prometheus={"url": prometheus_url},
        services=[
            {
                "name": "api",
                "namespace": "ns",
                "rollback": {
                    "target": {"kind": "deployment", "name": "api"},
                    "error_rate_above": 0.05,
                    "for": "4s",
                    "after_deploy": "60s",
                    "cooldown": "0s",
                    "timeout": "20s",
                },
            }
        ],
        slack={"base_url": slack.base_url, "routes": [{"channel": "#alerts"}]},
        grafana={"url": grafana.url, "token_env": "GRAFANA_TOKEN"},
        deploys={"channel": "#deploys", "watch": f"{WATCH}s"},
    )
    data["daemon"]["rollbacks"] = {"interval": "1s", "rate_window": "3s", "step": "1s"}
    return data


def thread(slack: FakeSlack, revision: int) -> Message | None:
    found = [m for m in slack.top_level("#deploys") if f"api revision {revision}:" in m.text]
    return found[0] if found else None


def shows(slack: FakeSlack, revision: int, status: str) -> bool:
    found = thread(slack, revision)
    return found is not None and found.text.endswith(status)


def test_threads_per_revision_and_annotations_that_survive_a_sigkill(tmp_path: Path) -> None:
    cluster = FakeCluster(tmp_path / "bin")
    with (
        SyntheticService() as syn,
        FakeSlack() as slack,
        FakeGrafana(GRAFANA_TOKEN) as grafana,
    ):
        syn.set("api", rps=20.0)
        with Prometheus(tmp_path, [syn.target]) as prom:
            cfg = config(tmp_path, prom.url, slack, grafana)
            env = {
                "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}",
                "SLACK_BOT_TOKEN": slack.token,
                "GRAFANA_TOKEN": GRAFANA_TOKEN,
            }
            daemon = DaemonProcess(tmp_path, cfg, env=env)
            daemon.wait_ready()
            wait("revision 1's annotation", lambda: len(grafana.annotations) == 1, daemon.output)
            (old,) = grafana.annotations.values()
            assert old["tags"] == ["deploy", "api"] and old["time"] < (time.time() - 3000) * 1000

            grafana.lose_next(1, path="/api/annotations")  # made, the answer lost
            assert cluster.deploy() == 2
            wait("revision 2 rolling out", lambda: shows(slack, 2, "rolling out"), daemon.output)
            wait("revision 2 verified", lambda: shows(slack, 2, "verified"), daemon.output, 40)

            for method in ("GET", "POST"):  # Grafana down from now on
                grafana.fail_next(10_000, 503, method=method, path="/api/annotations")
            assert cluster.deploy() == 3
            syn.set("api", error_ratio=0.2)
            undone = lambda: any(c[:2] == ["rollout", "undo"] for c in cluster.calls())  # noqa: E731
            wait("the rollback of revision 3", undone, daemon.output)
            syn.set("api", error_ratio=0.0)
            wait("revision 3 rolled back", lambda: shows(slack, 3, "rolled back"), daemon.output)
            assert cluster.revision() == 4
            time.sleep(1)  # the rollback's annotation is queued, Grafana refuses it
            assert daemon.stop(signal.SIGKILL) == -signal.SIGKILL
            assert len(grafana.annotations) == 2  # revision 1 and 2 only

            grafana.faults.clear()
            restarted = DaemonProcess(tmp_path, cfg, env=env, name="restarted.yaml")
            restarted.wait_ready()
            wait("the queued annotations", lambda: len(grafana.annotations) >= 4, restarted.output)
            time.sleep(3)  # time enough for a duplicate to show
            assert restarted.stop() == 0
            log = daemon.output() + restarted.output()

    texts = sorted(a["text"] for a in grafana.annotations.values())
    assert texts == [
        "api revision 1 deployed",
        "api revision 2 deployed (previous 1)",
        "api revision 3 deployed (previous 2)",
        "api rolled back from revision 3 to 4: success (trigger error_rate: every sample above "
        "0.05 for the whole window)",
    ], log
    assert sorted(tuple(a["tags"]) for a in grafana.annotations.values()) == [
        ("deploy", "api"),
        ("deploy", "api"),
        ("deploy", "api"),
        ("rollback", "api"),
    ]
    # One thread per revision: 2 and 3 (1 was old, 4 is where the rollback went).
    threads = slack.top_level("#deploys")
    assert [m.text for m in threads] == [
        ":white_check_mark: api revision 2: verified",
        ":leftwards_arrow_with_hook: api revision 3: rolled back",
    ]
    replies = [r["text"] for r in threads[1].thread_replies]
    assert replies[0].startswith("Rolling back to revision 2: error_rate fail")
    assert replies[-1].startswith("Rolled back to revision 4 (trigger error_rate")
    assert GRAFANA_TOKEN not in log and slack.token not in log
    assert "Traceback" not in log


def test_a_silence_from_slack_becomes_an_annotation(tmp_path: Path) -> None:
    port = free_port()
    receiver = {
        "name": "sre",
        "webhook_configs": [
            {
                "url": f"http://127.0.0.1:{port}/alertmanager",
                "http_config": {"authorization": {"type": "Bearer", "credentials": WEBHOOK_TOKEN}},
            }
        ],
    }
    with FakeSlack() as slack, FakeGrafana(GRAFANA_TOKEN) as grafana:
        am = Alertmanager(tmp_path / "am", [receiver])
        try:
            cfg = base_config(
                tmp_path,
                alertmanager={"url": am.url},
                slack={"base_url": slack.base_url, "routes": [{"channel": "#alerts"}]},
                grafana={"url": grafana.url, "token_env": "GRAFANA_TOKEN"},
            )
            cfg["daemon"]["listen"] = f"127.0.0.1:{port}"
            env = {
                "SRE_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
                "SLACK_BOT_TOKEN": slack.token,
                "SLACK_SIGNING_SECRET": SECRET,
                "GRAFANA_TOKEN": GRAFANA_TOKEN,
            }
            daemon = DaemonProcess(tmp_path, cfg, env=env)
            daemon.wait_ready()
            am.fire("ItestSilenceMark", severity="critical", service="api")
            (post,) = wait_calls(slack, "ItestSilenceMark", 1)
            buttons = post.body["attachments"][0]["blocks"][-1]["elements"]
            group_key = json.loads(buttons[0]["value"])["group_key"]
            started = time.time()
            assert action(daemon, "silence_4h", group_key) == 200
            wait("the silence's annotation", lambda: len(grafana.annotations) == 1, daemon.output)
            assert daemon.stop() == 0
        finally:
            am.stop()
    (mark,) = grafana.annotations.values()
    assert mark["tags"] == ["silence", "api"]
    assert mark["text"].startswith("Silenced by alice: Silenced 4h from Slack: ItestSilenceMark")
    assert abs(mark["time"] / 1000 - started) < 5
    assert mark["timeEnd"] - mark["time"] == 4 * 3600 * 1000
