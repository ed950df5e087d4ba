"""Processes the probe benchmark drives: nginx as the target, blackbox_exporter, CPU/RSS readers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

_NGINX_CONF = """
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log crit;
events {{ worker_connections 16384; }}
http {{
    {access_log}
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    keepalive_timeout 5;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{ return 200 "ok\\n"; }}
    }}
}}
"""


def find(name: str) -> str | None:
    """A Debian binary on PATH or in /usr/sbin (not always on root's PATH)."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def start_nginx(
    workdir: Path, access_log: Path | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """Debian's nginx on a loopback port, with its own prefix; every path answers 200 "ok".
    ``access_log``: each request's time and path are written there (buffered)."""
    binary = find("nginx") or "nginx"
    port = free_port()
    prefix = workdir / "nginx"
    prefix.mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    logging = "access_log off;"
    if access_log is not None:
        logging = (
            "log_format probes '$msec $uri';\n"
            f"    access_log {access_log} probes buffer=256k flush=1s;"
        )
    conf.write_text(_NGINX_CONF.format(prefix=prefix, port=port, access_log=logging))
    proc = subprocess.Popen(
        [binary, "-p", str(prefix), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_http(f"http://127.0.0.1:{port}/")
    return proc, port


def start_blackbox(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    binary = find("prometheus-blackbox-exporter") or "prometheus-blackbox-exporter"
    port = free_port()
    conf = workdir / "blackbox.yml"
    conf.write_text("modules:\n  http_2xx:\n    prober: http\n    timeout: 2s\n")
    proc = subprocess.Popen(
        [binary, f"--config.file={conf}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_http(f"http://127.0.0.1:{port}/metrics")
    return proc, port


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc/<pid>/stat."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def _status_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {key} for pid {pid}")


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set size) of a process, in MiB."""
    return _status_mb(pid, "VmHWM")


def rss_mb(pid: int) -> float:
    """VmRSS (current resident set size) of a process, in MiB."""
    return _status_mb(pid, "VmRSS")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
