"""The real daemon process (``python -m sre.daemon``) for integration tests and benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from sre.devtools.loopback import free_port, wait_for_http

ROOT = Path(__file__).resolve().parents[2]
API_TOKEN = "itest-api-token"  # daemon.api_token_env's default variable, SRE_API_TOKEN


def base_config(tmp: Path, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "system": "itest",
        "prometheus": {"url": "http://127.0.0.1:9"},
        "runbooks": {"base_url": "http://127.0.0.1/"},
        "services": [{"name": "api", "namespace": "ns"}],
        "daemon": {
            "listen": f"127.0.0.1:{free_port()}",
            "state": f"sqlite:///{tmp}/state/state.db",
            "shutdown_timeout": "5s",
        },
    }
    data.update(extra)
    return data


class DaemonProcess:
    """``python -m sre.daemon`` with a temporary config; stderr goes to a file."""

    def __init__(
        self,
        tmp: Path,
        config: dict[str, Any] | str,
        *args: str,
        env: dict[str, str] | None = None,
        name: str = "sre.yaml",
    ) -> None:
        self.config_path = tmp / name
        text = config if isinstance(config, str) else yaml.safe_dump(config)
        self.config_path.write_text(text)
        listen = "" if isinstance(config, str) else config["daemon"]["listen"]
        self.port = int(listen.rpartition(":")[2]) if listen.rpartition(":")[2].isdigit() else 0
        self.log_path = tmp / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sre.daemon", "--config", str(self.config_path), *args],
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={
                "SRE_WEBHOOK_TOKEN": "itest-webhook-token",
                "SRE_API_TOKEN": API_TOKEN,
                **os.environ,
                **(env or {}),
            },
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_ready(self) -> None:
        try:
            wait_for_http(self.url("/readyz"), timeout=30)
        except TimeoutError:
            self.proc.kill()
            raise AssertionError(f"daemon not ready; log:\n{self.output()}") from None

    def get(self, path: str, token: str | None = None) -> tuple[int, str]:
        """``GET path``, with ``Authorization: Bearer token`` when given."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        request = urllib.request.Request(self.url(path), headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        """Any request, with ``Authorization: Bearer token`` when given; (status, text)."""
        headers = {**(headers or {}), **({"Authorization": f"Bearer {token}"} if token else {})}
        req = urllib.request.Request(
            self.url(path), data=body or None, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def wait_log(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not logged:\n{self.output()}")
            time.sleep(0.1)

    def metric(self, sample: str) -> float | None:
        """The value of one exposed sample, e.g. ``sre_outbox_pending`` or
        ``sre_slack_deliveries_total{result="ok"}``; None when absent."""
        for line in self.get("/metrics")[1].splitlines():
            name, _, value = line.rpartition(" ")
            if name == sample:
                return float(value)
        return None

    def wait(self, timeout: float = 30) -> int:
        code = self.proc.wait(timeout=timeout)
        self._log.close()
        return code

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        return self.wait()

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()
