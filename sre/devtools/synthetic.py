"""A synthetic service whose traffic, error rate and latency a test controls, and a real
Prometheus (Debian's) that scrapes it.

:class:`SyntheticService` serves ``/metrics`` on 127.0.0.1 with, per ``service`` label,
``http_requests_total{service,code}`` and ``http_request_duration_seconds_bucket{service,le}``.
The counters are not driven by real requests: they grow at ``rps`` per second of wall time
(``error_ratio`` of it as 500s, every request taking ``latency`` seconds), integrated
exactly between changes, so a test says "from now on, 20% errors" and Prometheus sees it
at its next scrape. ``nan=True`` exports the 500 counter as NaN (broken instrumentation).
``/healthz/<service>`` answers 200 or 500 (``healthy``); ``/metrics/<service>`` serves one
service's series only, so a Prometheus can scrape each service as its own target.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sre.devtools.loopback import find_binary, free_port, wait_for_http

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class _Traffic:
    rps: float = 0.0
    error_ratio: float = 0.0
    latency: float = 0.02
    nan: bool = False
    healthy: bool = True
    ok: float = 0.0
    errors: float = 0.0
    buckets: dict[float, float] = field(default_factory=lambda: dict.fromkeys(BUCKETS, 0.0))
    total: float = 0.0
    seconds: float = 0.0
    at: float = field(default_factory=time.time)

    def accrue(self, now: float) -> None:
        n = self.rps * max(0.0, now - self.at)
        self.at = now
        self.errors += n * self.error_ratio
        self.ok += n * (1 - self.error_ratio)
        self.total += n
        self.seconds += n * self.latency
        for le in BUCKETS:
            if self.latency <= le:
                self.buckets[le] += n


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A scraper that gave up (its timeout) is not our error; anything else is.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class SyntheticService:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._services: dict[str, _Traffic] = {}
        self.port = free_port()
        self.scrapes = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/metrics":
                    body, status = outer.render().encode(), 200
                    outer.scrapes += 1
                elif self.path.startswith("/metrics/"):
                    body, status = outer.render(self.path.removeprefix("/metrics/")).encode(), 200
                    outer.scrapes += 1
                elif self.path.startswith("/healthz/"):
                    up = outer.healthy(self.path.removeprefix("/healthz/"))
                    body, status = (b"ok\n", 200) if up else (b"broken\n", 500)
                else:
                    body, status = b"not found\n", 404
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = _Server(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> SyntheticService:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def set(self, service: str, **params: Any) -> float:
        """Change ``service``'s traffic from now on; returns the time of the change."""
        with self._lock:
            now = time.time()
            traffic = self._services.setdefault(service, _Traffic(at=now))
            traffic.accrue(now)
            for key, value in params.items():
                if not hasattr(traffic, key):
                    raise TypeError(f"unknown traffic parameter {key!r}")
                setattr(traffic, key, value)
            return now

    def healthy(self, service: str) -> bool:
        with self._lock:
            traffic = self._services.get(service)
            return traffic is None or traffic.healthy

    def render(self, only: str | None = None) -> str:
        """The exposition text of every service, or of ``only``."""
        lines = [
            "# TYPE http_requests_total counter",
            "# TYPE http_request_duration_seconds histogram",
        ]
        with self._lock:
            now = time.time()
            for name, t in sorted(self._services.items()):
                if only is not None and name != only:
                    continue
                t.accrue(now)
                errors = "NaN" if t.nan else _num(t.errors)
                lines.append(f'http_requests_total{{service="{name}",code="200"}} {_num(t.ok)}')
                lines.append(f'http_requests_total{{service="{name}",code="500"}} {errors}')
                for le in BUCKETS:
                    lines.append(
                        f'http_request_duration_seconds_bucket{{service="{name}",le="{le}"}} '
                        f"{_num(t.buckets[le])}"
                    )
                lines.append(
                    f'http_request_duration_seconds_bucket{{service="{name}",le="+Inf"}} '
                    f"{_num(t.total)}"
                )
                lines.append(
                    f'http_request_duration_seconds_count{{service="{name}"}} {_num(t.total)}'
                )
                lines.append(
                    f'http_request_duration_seconds_sum{{service="{name}"}} {_num(t.seconds)}'
                )
        return "\n".join(lines) + "\n"


def _num(value: float) -> str:
    return "NaN" if math.isnan(value) else repr(float(value))


class Prometheus:
    """Debian's Prometheus on 127.0.0.1:<free port>, scraping ``targets`` every second,
    with its storage under ``tmp``. ``start`` / ``stop`` may be called repeatedly.

    ``scrape_configs`` (YAML text of the list) replaces the one ``synthetic`` job over
    ``targets``; ``rule_files`` are loaded and evaluated every ``evaluation_interval``."""

    def __init__(
        self,
        tmp: Path,
        targets: list[str],
        scrape_interval: str = "1s",
        *,
        evaluation_interval: str = "1s",
        rule_files: Sequence[Path] = (),
        scrape_configs: str | None = None,
    ) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = tmp / "prometheus.yml"
        quoted = ", ".join(f"'{t}'" for t in targets)
        if scrape_configs is None:
            scrape_configs = (
                f"  - job_name: synthetic\n    static_configs: [{{targets: [{quoted}]}}]\n"
            )
        rules = "".join(f"  - '{path}'\n" for path in rule_files)
        self.config.write_text(
            f"global: {{scrape_interval: {scrape_interval}, "
            f"evaluation_interval: {evaluation_interval}}}\n"
            + (f"rule_files:\n{rules}" if rules else "")
            + "scrape_configs:\n"
            + scrape_configs
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Prometheus:
        self.proc = subprocess.Popen(
            [
                find_binary("prometheus"),
                f"--config.file={self.config}",
                f"--storage.tsdb.path={self.tmp / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_http(f"{self.url}/-/ready")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        self.proc = None

    def __enter__(self) -> Prometheus:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


STANDIN = '''#!{python}
"""Stand-in {tool}: records its argv as a JSON line, answers like the real one."""
import json, sys, time
args = sys.argv[1:]
with open({log!r}, "a") as f:
    f.write(json.dumps({{"tool": {tool!r}, "argv": args, "at": time.time()}}) + "\\n")
DEPLOYED = {deployed!r}

def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))

def rs(name, rev, ts):
    return {{"metadata": {{"name": f"{{name}}-{{rev}}", "creationTimestamp": iso(ts),
            "annotations": {{"deployment.kubernetes.io/revision": str(rev)}},
            "ownerReferences": [{{"kind": "Deployment", "name": name}}]}}}}

if {tool!r} == "kubectl" and args[:1] == ["get"] and args[1].startswith("deployment/"):
    name = args[1].split("/", 1)[1]
    print(json.dumps({{"metadata": {{"name": name, "annotations":
        {{"deployment.kubernetes.io/revision": "3"}}}},
        "spec": {{"selector": {{"matchLabels": {{"app": name}}}}}}}}))
elif {tool!r} == "kubectl" and args[:2] == ["get", "replicasets"]:
    name = args[args.index("-l") + 1].split("=", 1)[1]
    items = [rs(name, 1, DEPLOYED - 7200), rs(name, 2, DEPLOYED - 3600), rs(name, 3, DEPLOYED)]
    items.append(rs("someone-else", 9, DEPLOYED))
    print(json.dumps({{"items": items}}))
elif {tool!r} == "kubectl" and args[:2] == ["rollout", "undo"]:
    print(f"deployment.apps/{{args[2].split('/')[1]}} rolled back")
elif {tool!r} == "kubectl" and args[:2] == ["rollout", "status"]:
    print(f'deployment "{{args[2].split("/")[1]}}" successfully rolled out')
elif {tool!r} == "helm" and args[:1] == ["history"]:
    print(json.dumps([
        {{"revision": 1, "updated": "2026-11-26T10:00:00.123456789Z", "status": "superseded"}},
        {{"revision": 2, "updated": iso(DEPLOYED).replace("Z", ".5+00:00"), "status": "deployed"}},
    ]))
elif {tool!r} == "helm" and args[:1] == ["rollback"]:
    print("Rollback was a success! Happy Helming!")
else:
    print("stand-in: unexpected arguments", args, file=sys.stderr)
    sys.exit(1)
'''


def write_standins(bin_dir: Path, log: Path, deployed_at: float) -> None:
    """``kubectl`` and ``helm`` stand-ins in ``bin_dir`` (put it first on PATH). Each call
    appends ``{"tool", "argv", "at"}`` to ``log``. The Deployment is at revision 3 (ReplicaSets
    1-3, revision 3 created at ``deployed_at``); the Helm release at revision 2."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in ("kubectl", "helm"):
        path = bin_dir / tool
        path.write_text(
            STANDIN.format(python=sys.executable, tool=tool, log=str(log), deployed=deployed_at)
        )
        path.chmod(0o755)


def calls(log: Path, tool: str | None = None) -> list[list[str]]:
    """The argv of every recorded stand-in call (of ``tool``), in order."""
    if not log.exists():
        return []
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [r["argv"] for r in rows if tool is None or r["tool"] == tool]
