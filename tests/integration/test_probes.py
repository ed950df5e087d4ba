"""Probe results of the real daemon process against local targets the test serves.

Targets (all on 127.0.0.1): an aiohttp app (ok, slow, 500, wrong body), two HTTPS servers
with certificates from a test CA (one valid, one expired), a closed port, a TCP listener
and a name that does not resolve. The daemon trusts the test CA through SSL_CERT_FILE.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import free_port
from tests.helpers.daemon import DaemonProcess, base_config

pytestmark = pytest.mark.integration

VALID_UNTIL = dt.datetime(2045, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
EXPIRED_AT = dt.datetime(2021, 1, 1, tzinfo=dt.UTC)


class Targets:
    """aiohttp servers on their own event loop in a thread."""

    def __init__(self, ca: trustme.CA) -> None:
        self.http = free_port()
        self.https_ok = free_port()
        self.https_expired = free_port()
        self.ca = ca
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.runner: web.AppRunner | None = None

    def _app(self) -> web.Application:
        async def ok(_: web.Request) -> web.Response:
            return web.Response(text="healthy")

        async def slow(_: web.Request) -> web.Response:
            await asyncio.sleep(3)
            return web.Response(text="healthy")

        async def fail(_: web.Request) -> web.Response:
            return web.Response(status=500, text="healthy")  # body matches: status decides

        async def wrong(_: web.Request) -> web.Response:
            return web.Response(text="unhealthy: db down")

        app = web.Application()
        app.router.add_get("/ok", ok)
        app.router.add_get("/slow", slow)
        app.router.add_get("/fail", fail)
        app.router.add_get("/wrong", wrong)
        return app

    def _tls(self, not_before: dt.datetime, not_after: dt.datetime) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", not_before=not_before, not_after=not_after).configure_cert(
            ctx
        )
        return ctx

    async def _start(self) -> None:
        self.runner = web.AppRunner(self._app(), access_log=None)
        await self.runner.setup()
        start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
        sites = [
            web.TCPSite(self.runner, "127.0.0.1", self.http),
            web.TCPSite(
                self.runner, "127.0.0.1", self.https_ok, ssl_context=self._tls(start, VALID_UNTIL)
            ),
            web.TCPSite(
                self.runner,
                "127.0.0.1",
                self.https_expired,
                ssl_context=self._tls(start, EXPIRED_AT),
            ),
        ]
        for site in sites:
            await site.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self.ready.set()
        self.loop.run_forever()

    def __enter__(self) -> Targets:
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *_: object) -> None:
        assert self.runner is not None
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def targets(ca: trustme.CA) -> Iterator[Targets]:
    with Targets(ca) as running:
        yield running


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float | None:
    return found.get((name, tuple(sorted(labels.items()))))


def test_probe_results(tmp_path: Path, targets: Targets, ca: trustme.CA) -> None:
    closed = free_port()
    base = f"http://127.0.0.1:{targets.http}"
    fast = {"interval": "1s", "timeout": "500ms"}
    config = base_config(
        tmp_path,
        services=[
            {
                "name": "api",
                "namespace": "ns",
                "health": {"url": f"{base}/ok", "body_regex": "^healthy$", **fast},
            }
        ],
        probes=[
            {"name": "slow", "url": f"{base}/slow", **fast},
            {"name": "refused", "url": f"http://127.0.0.1:{closed}/", **fast},
            {"name": "fail", "url": f"{base}/fail", "body_regex": "healthy", **fast},
            {"name": "wrong-body", "url": f"{base}/wrong", "body_regex": "^healthy", **fast},
            {"name": "accept-500", "url": f"{base}/fail", "expect_status": [500], **fast},
            {"name": "tls-ok", "url": f"https://127.0.0.1:{targets.https_ok}/ok", **fast},
            {"name": "tls-expired", "url": f"https://127.0.0.1:{targets.https_expired}/ok", **fast},
            {"name": "tcp-open", "url": f"tcp://127.0.0.1:{targets.http}", **fast},
            {"name": "tcp-closed", "url": f"tcp://127.0.0.1:{closed}", **fast},
            {"name": "no-dns", "url": "http://no-such-host.invalid/", **fast},
        ],
    )
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    daemon = DaemonProcess(tmp_path, config, env={"SSL_CERT_FILE": str(cafile)})
    daemon.wait_ready()
    names = ["slow", "refused", "fail", "wrong-body", "accept-500", "tls-ok", "tls-expired"]
    names += ["tcp-open", "tcp-closed", "no-dns"]
    expected = [("api", "health")] + [(n, n) for n in names]
    try:
        deadline = time.monotonic() + 20
        while True:  # every target probed at least twice
            found = samples(daemon.get("/metrics")[1])
            done = all(
                (value(found, "sre_probe_failures_total", service=s, target=t, reason=r) or 0) >= 2
                for s, t, r in [("slow", "slow", "timeout"), ("no-dns", "no-dns", "dns")]
            ) and all(
                value(found, "sre_probe_success", service=s, target=t) is not None
                for s, t in expected
            )
            if done or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        assert daemon.stop() == 0
    log = daemon.output()

    def success(service: str, target: str | None = None) -> float | None:
        return value(found, "sre_probe_success", service=service, target=target or service)

    def failures(service: str, reason: str) -> float:
        return (
            value(found, "sre_probe_failures_total", service=service, target=service, reason=reason)
            or 0
        )

    assert success("api", "health") == 1, log
    assert value(found, "sre_probe_http_status_code", service="api", target="health") == 200
    for ok in ("accept-500", "tls-ok", "tcp-open"):
        assert success(ok) == 1, (ok, log)
    reasons = {
        "slow": "timeout",
        "refused": "connect_refused",
        "fail": "status",
        "wrong-body": "body",
        "tls-expired": "tls",
        "tcp-closed": "connect_refused",
        "no-dns": "dns",
    }
    for target, reason in reasons.items():
        assert success(target) == 0, (target, log)
        assert failures(target, reason) >= 1, (target, reason)
        others = [
            labels
            for (name, labels), v in found.items()
            if name == "sre_probe_failures_total"
            and ("target", target) in labels
            and ("reason", reason) not in labels
            and v > 0
        ]
        assert others == [], (target, others)
    assert value(found, "sre_probe_http_status_code", service="fail", target="fail") == 500
    assert (
        value(found, "sre_probe_http_status_code", service="wrong-body", target="wrong-body") == 200
    )
    assert (value(found, "sre_probe_duration_seconds", service="slow", target="slow") or 0) >= 0.45
    expiry = "sre_probe_tls_cert_expiry_timestamp_seconds"
    assert value(found, expiry, service="tls-ok", target="tls-ok") == VALID_UNTIL.timestamp()
    assert (
        value(found, expiry, service="tls-expired", target="tls-expired") == EXPIRED_AT.timestamp()
    )
    assert value(found, expiry, service="api", target="health") is None  # plain HTTP
    heartbeat = value(found, "sre_probe_engine_heartbeat_timestamp_seconds", interval="1s")
    assert heartbeat is not None and heartbeat > time.time() - 60
    assert (value(found, "sre_job_runs_total", job="probes.1s", outcome="success") or 0) >= 1
