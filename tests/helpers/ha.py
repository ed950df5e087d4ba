"""Several real daemon replicas on one PostgreSQL database, and what the HA tests and the
``benchmarks/ha`` benchmark drive them with: a probe-target server that records who
was probed when, a webhook sender that fails over between replicas as a Kubernetes
Service would, and the replicas' own metrics.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from sre.devtools.fake_slack import FakeSlack
from sre.devtools.loopback import free_port
from tests.helpers.daemon import DaemonProcess
from tests.helpers.storm import Report, analyse

TOKEN = "itest-webhook-token"  # DaemonProcess's SRE_WEBHOOK_TOKEN


def replica_config(
    tmp: Path, state: str, slack_url: str, *, lease: str = "2s", renew: str = "500ms", **extra: Any
) -> dict[str, Any]:
    """A daemon config on the shared ``state`` (a ``postgresql://`` URL) with short leases."""
    config: dict[str, Any] = {
        "system": "ha",
        "prometheus": {"url": "http://127.0.0.1:9"},
        "runbooks": {"base_url": "http://127.0.0.1/"},
        "services": [{"name": "api", "namespace": "ns"}],
        "daemon": {
            "listen": "127.0.0.1:0",
            "state": state,
            "shutdown_timeout": "5s",
            "ha": {"lease_duration": lease, "renew_interval": renew},
        },
        "slack": {
            "base_url": slack_url,
            "routes": [
                {"match": {"severity": "critical"}, "channel": "#alerts"},
                {"channel": "#devops-alerts"},
            ],
        },
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


class Replica(DaemonProcess):
    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        with urllib.request.urlopen(self.url("/metrics"), timeout=5) as resp:
            text = resp.read().decode()
        out = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return out

    def sample(self, name: str, **labels: str) -> float:
        """A metric's value (0 when absent); summed over the labels not given."""
        try:
            found = self.metrics()
        except OSError:
            return float("nan")
        return sum(
            v
            for (n, lbl), v in found.items()
            if n == name and all(dict(lbl).get(k) == val for k, val in labels.items())
        )

    def series(self, name: str) -> set[tuple[tuple[str, str], ...]]:
        """The label sets ``name`` is exported with."""
        return {labels for (n, labels) in self.metrics() if n == name}

    def leads(self) -> bool:
        return self.sample("sre_ha_leader") == 1.0

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)


def start_replicas(
    tmp: Path,
    configs: list[dict[str, Any]],
    slack_token: str,
    *,
    first: int = 0,
    env: dict[str, str] | None = None,
) -> list[Replica]:
    """Start every replica at once (they migrate the database together), then wait."""
    started = []
    env = {
        "SLACK_BOT_TOKEN": slack_token,
        "SLACK_SIGNING_SECRET": "itest-signing-secret",
        **(env or {}),
    }
    for i, config in enumerate(configs, start=first):
        config["daemon"]["listen"] = f"127.0.0.1:{free_port()}"
        started.append(Replica(tmp, config, env=env, name=f"replica{i}.yaml"))
    try:
        for replica in started:
            replica.wait_ready()
    except BaseException:
        for replica in started:
            replica.proc.kill()
        raise
    return started


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds it took; AssertionError naming ``what`` after ``timeout``."""
    began = time.monotonic()
    while not predicate():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"not within {timeout:g}s: {what}")
        time.sleep(0.05)
    return time.monotonic() - began


def the_leader(replicas: list[Replica], timeout: float = 10) -> Replica:
    found: list[Replica] = []

    def one() -> bool:
        found[:] = [r for r in replicas if r.proc.poll() is None and r.leads()]
        return len(found) == 1

    wait_until(one, timeout, "exactly one leader")
    return found[0]


async def send(
    urls: list[str], body: dict[str, Any], *, session: aiohttp.ClientSession
) -> tuple[int, str]:
    """One webhook, to the first replica that answers 200 (another one after a refusal
    or a dead connection, as Alertmanager retrying through a Service would)."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    data = json.dumps(body).encode()
    attempt = 0
    while True:
        url = urls[attempt % len(urls)]
        try:
            async with session.post(url, data=data, headers=headers) as resp:
                if resp.status == 200:
                    return resp.status, (await resp.text()).strip()
        except (aiohttp.ClientError, TimeoutError):
            pass
        attempt += 1
        await asyncio.sleep(0.2)


@dataclass(frozen=True)
class Seen:
    """What ``tests.helpers.storm.analyse`` reads of each message Slack showed."""

    method: str
    channel: str
    ts: str
    thread_ts: str | None
    text: str
    at: float


def slack_report(slack: FakeSlack, groups: int) -> Report:
    """Which ``Storm<NNNN>`` groups Slack showed, and how many own messages each got."""
    seen: list[Seen] = []
    messages = {id(m.body): m for m in [*slack.messages.values(), *slack.replies.values()]}
    for call in list(slack.calls):
        stored = messages.get(id(call.body))
        if call.method == "chat.postMessage" and stored is not None:
            seen.append(
                Seen(call.method, stored.channel, stored.ts, stored.thread_ts,
                     json.dumps(call.body), call.received_at)
            )  # fmt: skip
        elif call.method == "chat.update":
            channel, ts = str(call.body.get("channel")), str(call.body.get("ts"))
            seen.append(
                Seen(call.method, channel, ts, None, json.dumps(call.body), call.received_at)
            )
    return analyse({"seen": seen, "throttled": len(slack.throttled)}, groups)


class TargetServer:
    """Probe targets on one loopback port: ``/t/<name>`` answers 200 (or what
    ``status[name]`` says) and records when each was probed."""

    def __init__(self) -> None:
        self.port = free_port()
        self.status: dict[str, int] = {}
        self.hits: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/t/{name}"

    def probed(self, name: str) -> list[float]:
        with self._lock:
            return list(self.hits.get(name, []))

    async def _handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        with self._lock:
            self.hits.setdefault(name, []).append(time.time())
        return web.Response(status=self.status.get(name, 200), text="ok")

    def __enter__(self) -> TargetServer:
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_get("/t/{name}", self._handle)
            runner = web.AppRunner(app, access_log=None)
            self._loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", self.port, backlog=1024)
            self._loop.run_until_complete(site.start())
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(runner.cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=serve, name="probe-targets", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("target server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)


def stop_all(replicas: list[Replica]) -> None:
    """SIGTERM each (resumed) replica; each must exit 0. None is left running."""
    codes = []
    for replica in replicas:
        if replica.proc.poll() is None:
            replica.resume()
            try:
                codes.append((replica.stop(signal.SIGTERM), replica))
            except subprocess.TimeoutExpired:
                replica.proc.kill()
                codes.append((-9, replica))
    for code, replica in codes:
        assert code == 0, replica.output()
