"""Loopback helpers: free ports, waiting for servers, finding Debian binaries."""

from __future__ import annotations

import glob
import shutil
import socket
import time
import urllib.error
import urllib.request


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
