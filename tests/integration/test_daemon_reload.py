"""The real daemon process: reload (SIGHUP and ``POST /-/reload``) and what answers without
credentials."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml

from sre.devtools.fake_slack import FakeSlack
from tests.helpers.alertmanager import alert_json, webhook
from tests.helpers.daemon import API_TOKEN, DaemonProcess, base_config

pytestmark = pytest.mark.integration
TOKEN = "itest-webhook-token"


def send(daemon: DaemonProcess, name: str) -> int:
    body = json.dumps(webhook([alert_json(name)], group_key=f"{{}}:{name}")).encode()
    return daemon.request("POST", "/alertmanager", body, TOKEN)[0]


def config(tmp: Path, slack: FakeSlack, channel: str) -> dict[str, Any]:
    data = base_config(tmp)
    data["slack"] = {"base_url": slack.base_url, "routes": [{"channel": channel}]}
    return data


def test_sighup_and_the_reload_endpoint_switch_config_and_keep_a_bad_one_out(
    tmp_path: Path,
) -> None:
    with FakeSlack() as slack:
        first = config(tmp_path, slack, "#first")
        env = {"SLACK_BOT_TOKEN": slack.token}
        daemon = DaemonProcess(tmp_path, first, env=env)
        daemon.wait_ready()
        try:
            assert send(daemon, "BeforeReload") == 200
            slack.wait_for(lambda s: any(m.channel == "#first" for m in s.top_level()))
            sha = daemon.get("/metrics")[1].split('sre_config_info{sha256="')[1][:12]

            # Slack down: the next group waits in the outbox across the reload.
            slack.fail_next(50, 503, method="chat.postMessage")
            assert send(daemon, "DuringReload") == 200
            second = {
                **first,
                "slack": {"base_url": slack.base_url, "routes": [{"channel": "#second"}]},
            }
            daemon.config_path.write_text(yaml.safe_dump(second))
            daemon.proc.send_signal(signal.SIGHUP)
            daemon.wait_log("reloaded")
            assert sha not in daemon.get("/metrics")[1]  # sre_config_info names the new file

            # A bad file is refused; the running config stays and the daemon serves on.
            daemon.config_path.write_text("system: [oops\n")
            daemon.proc.send_signal(signal.SIGHUP)
            daemon.wait_log("reload refused")
            status, text = daemon.request("POST", "/-/reload", token=API_TOKEN)
            assert status == 400 and "not valid YAML" in text
            assert daemon.request("POST", "/-/reload")[0] == 401
            moved = {**second, "daemon": {**second["daemon"], "listen": "127.0.0.1:1"}}
            daemon.config_path.write_text(yaml.safe_dump(moved))
            status, text = daemon.request("POST", "/-/reload", token=API_TOKEN)
            assert status == 400 and "only change with a restart" in text
            daemon.config_path.write_text(yaml.safe_dump(second))
            assert daemon.request("POST", "/-/reload", token=API_TOKEN) == (200, "reloaded\n")

            # Slack back: nothing was lost, and new groups follow the new routes.
            slack._faults.clear()
            assert send(daemon, "AfterReload") == 200
            slack.wait_for(
                lambda s: (
                    {"DuringReload", "AfterReload"}
                    <= {
                        n
                        for m in s.top_level("#second")
                        for n in ("DuringReload", "AfterReload")
                        if n in m.text
                    }
                ),
                timeout=30,
            )
            assert daemon.get("/readyz") == (200, "ready\n")
            metrics = daemon.get("/metrics")[1]
            assert 'sre_config_reloads_total{result="success"} 2.0' in metrics  # SIGHUP + POST
            assert 'sre_config_reloads_total{result="failure"} 3.0' in metrics  # YAML x2, listen
        finally:
            assert daemon.stop() == 0
    log = daemon.output()
    assert "Traceback" not in log and "stopped" in log


def test_without_credentials_only_metrics_and_health_answer(tmp_path: Path) -> None:
    cfg = base_config(tmp_path)
    cfg["slack"] = {"routes": [{"channel": "#x"}]}
    cfg["services"][0]["rollback"] = {"target": {"kind": "deployment", "name": "api"}}
    daemon = DaemonProcess(tmp_path, cfg, env={"SLACK_SIGNING_SECRET": "sign-secret-1234"})
    daemon.wait_ready()
    try:
        for path in ("/metrics", "/healthz", "/readyz"):
            assert daemon.get(path)[0] == 200, path
        for method, path in [
            ("GET", "/rollbacks"),
            ("POST", "/-/reload"),
            ("POST", "/alertmanager"),
            ("POST", "/slack/actions"),
        ]:
            status, text = daemon.request(method, path, b"{}")
            assert status == 401, (method, path, status, text)
        assert daemon.request("GET", "/rollbacks", token="wrong")[0] == 401
        assert daemon.request("GET", "/rollbacks", token=API_TOKEN)[0] == 200
        assert daemon.request("GET", "/nothing-here")[0] == 404
    finally:
        assert daemon.stop() == 0


def test_reload_in_process_keeps_the_old_features_when_the_new_cannot_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prometheus_client import CollectorRegistry

    from sre.config import load_config
    from sre.daemon.process import Daemon

    path = tmp_path / "sre.yaml"
    data = base_config(tmp_path)
    path.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("SRE_WEBHOOK_TOKEN", TOKEN)

    async def go() -> None:
        registry = CollectorRegistry()
        daemon = Daemon(load_config(path), "sha", registry=registry, config_path=path)
        await daemon.start()
        try:
            before = list(daemon.features)
            # The new config names a token variable that is unset: the alerts feature
            # refuses to start, so the reload is refused and the old features run on.
            data["daemon"]["webhook_token_env"] = "NOT_SET_ANYWHERE"
            path.write_text(yaml.safe_dump(data))
            problem = await daemon.reload()
            assert problem is not None and "NOT_SET_ANYWHERE" in problem
            assert daemon.features == before
            assert registry.get_sample_value("sre_outbox_pending") == 0  # metrics put back
            data["daemon"]["webhook_token_env"] = "SRE_WEBHOOK_TOKEN"
            data["daemon"]["reconcile_interval"] = "7m"
            path.write_text(yaml.safe_dump(data))
            assert await daemon.reload() is None
            assert daemon.features != before and daemon.cfg.daemon.reconcile_interval.seconds == 420
            assert registry.get_sample_value("sre_outbox_pending") == 0
        finally:
            await daemon.stop()

    asyncio.run(go())
