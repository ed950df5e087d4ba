"""The real daemon process: endpoints, exit codes, logs, a clean stop and a restart."""

from __future__ import annotations

import hashlib
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sre
from sre.runtime.store.sqlite import open_sqlite
from tests.helpers.daemon import ROOT, DaemonProcess, base_config

pytestmark = pytest.mark.integration


def test_help_lists_the_flags(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sre.daemon", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0
    for flag in ("--config", "--log-format", "--log-level"):
        assert flag in out.stdout


def test_bad_config_exits_2_listing_every_problem(tmp_path: Path) -> None:
    config = base_config(tmp_path)
    del config["system"]
    config["daemon"]["listen"] = "nowhere"
    config["services"][0]["health"] = {"url": "ftp://x", "interval": "2x"}
    daemon = DaemonProcess(tmp_path, config)
    assert daemon.wait() == 2
    out = daemon.output()
    for path in (
        "system",
        "daemon.listen",
        "services[0].health.url",
        "services[0].health.interval",
    ):
        assert f"{path}:" in out, out
    assert "4 problems" in out and "Traceback" not in out
    missing = DaemonProcess(tmp_path, "", name="empty.yaml")
    missing.config_path.unlink()
    assert missing.wait() == 2
    assert "cannot read" in missing.output()


def test_a_daemon_only_config_needs_no_prometheus_or_runbooks(tmp_path: Path) -> None:
    config = base_config(tmp_path)
    del config["prometheus"], config["runbooks"]
    daemon = DaemonProcess(tmp_path, config)
    try:
        daemon.wait_ready()
        assert daemon.get("/readyz") == (200, "ready\n")
    finally:
        assert daemon.stop() == 0
    assert "Traceback" not in daemon.output()


def test_endpoints_then_sigterm_then_restart_keeps_state(tmp_path: Path) -> None:
    config = base_config(tmp_path)
    daemon = DaemonProcess(tmp_path, config)
    daemon.wait_ready()
    assert daemon.get("/healthz") == (200, "ok\n")
    assert daemon.get("/readyz") == (200, "ready\n")
    status, metrics = daemon.get("/metrics")
    assert status == 200
    sha = hashlib.sha256(daemon.config_path.read_bytes()).hexdigest()
    assert f'sre_build_info{{version="{sre.__version__}"}} 1.0' in metrics
    assert f'sre_config_info{{sha256="{sha}"}} 1.0' in metrics
    assert "# TYPE sre_job_runs_total counter" in metrics
    assert "# TYPE sre_job_duration_seconds histogram" in metrics
    assert daemon.get("/nope")[0] == 404
    assert daemon.stop(signal.SIGTERM) == 0
    log = daemon.output()
    assert log.count("slack: section absent, Slack notifications off (console sink)") == 1
    assert "stopped" in log and "Traceback" not in log

    db = tmp_path / "state" / "state.db"
    wal = Path(f"{db}-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # closed cleanly: WAL checkpointed
    store = open_sqlite(db)
    assert store.version("core") == 2
    item = store.outbox_add("slack", {"text": "still here"}, key="k")
    store.close()

    again = DaemonProcess(tmp_path, config, name="sre2.yaml")
    again.wait_ready()
    assert again.stop(signal.SIGINT) == 0
    store = open_sqlite(db)
    assert [i.id for i in store.outbox_pending(["slack"])] == [item]
    store.close()


def test_json_logs_and_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        config = base_config(tmp_path)
        config["daemon"]["listen"] = f"127.0.0.1:{sock.getsockname()[1]}"
        daemon = DaemonProcess(tmp_path, config, "--log-format", "json", "--log-level", "debug")
        assert daemon.wait() == 1
    lines = [json.loads(line) for line in daemon.output().splitlines() if line.strip()]
    assert lines, "no log lines"
    assert {"ts", "level", "logger", "msg"} <= set(lines[0])
    assert any("cannot listen" in entry["msg"] for entry in lines)


def test_a_url_the_config_accepts_never_crashes_the_daemon(tmp_path: Path) -> None:
    config = base_config(tmp_path)
    config["services"][0]["health"] = {
        "url": "http://127.0.0.1:1/h€alth a",
        "interval": "1s",
        "timeout": "500ms",
    }
    daemon = DaemonProcess(tmp_path, config)
    daemon.wait_ready()
    failed = 'sre_probe_failures_total{reason="connect_refused",service="api",target="health"}'
    deadline = time.monotonic() + 10
    text = ""
    while failed not in text and time.monotonic() < deadline:
        time.sleep(0.2)
        status, text = daemon.get("/metrics")
        assert status == 200
    assert failed in text
    assert daemon.stop() == 0
    assert "Traceback" not in daemon.output()
