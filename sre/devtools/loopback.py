"""Loopback helpers: free ports, waiting for servers, finding Debian binaries, and an
aiohttp application served from a thread of its own (the local Slack and PagerDuty)."""

from __future__ import annotations

import asyncio
import glob
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request

from aiohttp import web


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, timeout: float = 30.0, expect: int = 200) -> None:
    """Poll ``url`` until it answers ``expect``; raise with the last error on time-out."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == expect:
                    return
                last = response.status
        except urllib.error.HTTPError as err:
            if err.code == expect:
                return
            last = err
        except OSError as err:
            last = err
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer {expect} within {timeout}s (last: {last})")


def find_binary(name: str) -> str:
    """Find a Debian-installed binary (also under /usr/lib/postgresql/*/bin); fail loudly."""
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if not found:
        raise RuntimeError(f"{name} is not installed: run `make test` (it installs it)")
    return found


class BackgroundServer:
    """``app`` on 127.0.0.1:``port``, served by an event loop on a daemon thread, so that
    blocking tests and the process under test can both talk to it."""

    def __init__(self, app: web.Application, port: int, name: str) -> None:
        self.app, self.port, self.name = app, port, name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        ready = threading.Event()

        def serve() -> None:
            loop = self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            runner = web.AppRunner(self.app, access_log=None)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name=self.name, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"{self.name} did not start")

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
