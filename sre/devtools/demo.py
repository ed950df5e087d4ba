"""``make demo``: the whole alerting pipeline on loopback, with real parts.

A synthetic Parallel AI platform (one metrics server per service, plus the task queues),
Prometheus with the rendered rules and scrape configuration, Alertmanager with the rendered
routes, the SRE daemon (``python -m sre.daemon``, as a black box) and the local Slack
server, with a page that shows the messages. Switches inject errors, latency, a queue
backlog or a dead service. Ctrl-C stops it all.

Usage: python -m sre.devtools.demo [--workdir .cache/demo] [--ready-file PATH] [--alert-for 15s]

``--alert-for`` caps every alert's ``for`` in the demo's rendered rules (the expressions,
routes and inhibitions stay as rendered): alerts arrive in seconds instead of minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import os
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from sre.config.durations import Duration
from sre.devtools.fake_slack import FakeSlack
from sre.devtools.loopback import find_binary, free_port, wait_for_http
from sre.devtools.synthetic import SyntheticService
from sre.render.rulefiles import dump_yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("api-service", "agent-orchestrator", "agent-worker", "web-frontend")
QUEUES = {"agent-tasks": 1000, "agent-results": 5000}
TOKEN = "demo-only-webhook-token"
SLACK_TOKEN = "xoxb-demo-only"


class Queues:
    """``queue_length`` / ``queue_oldest_task_age_seconds`` for the task queues."""

    def __init__(self) -> None:
        self.length = dict.fromkeys(QUEUES, 12.0)
        self.port = free_port()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                lines = ["# TYPE queue_length gauge", "# TYPE queue_oldest_task_age_seconds gauge"]
                for name, length in sorted(outer.length.items()):
                    lines.append(f'queue_length{{queue="{name}"}} {length}')
                    age = 5.0 if length < 100 else 3600.0
                    lines.append(f'queue_oldest_task_age_seconds{{queue="{name}"}} {age}')
                body = ("\n".join(lines) + "\n").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def demo_config(work: Path, ports: dict[str, Any]) -> dict[str, Any]:
    """The demo's sre.yaml: the real one's services, pointed at loopback."""
    real = yaml.safe_load((ROOT / "sre.yaml").read_text())
    services = []
    for svc in real["services"]:
        targets = [f"127.0.0.1:{ports['services'][svc['name']]}"]
        if svc["name"] == "agent-worker":
            targets.append(f"127.0.0.1:{ports['queues']}")
        services.append(
            {
                "name": svc["name"],
                "namespace": svc["namespace"],
                "slo": svc.get("slo"),
                "metrics": {"targets": targets, "interval": "2s"},
            }
        )
    daemon_url = f"http://127.0.0.1:{ports['daemon']}"
    return {
        "system": "parallel-ai",
        "environment": "production",
        "prometheus": {"url": f"http://127.0.0.1:{ports['prometheus']}", "scrape_interval": "2s"},
        "runbooks": real["runbooks"],
        "selectors": real["selectors"],
        "services": services,
        "queues": real["queues"],
        "alertmanager": {
            "url": f"http://127.0.0.1:{ports['alertmanager']}",
            "secrets_dir": str(work / "secrets"),
            "receivers": [{"name": "slack", "sre_daemon": {"url": daemon_url}}],
            "route": {
                "receiver": "slack",
                "group_by": ["alertname", "service"],
                "group_wait": "1s",
                "group_interval": "5s",
                "repeat_interval": "1h",
            },
            # Watchdog goes to the daemon's heartbeat, not to Slack.
            "heartbeat": {"receiver": "slack", "interval": "1m", "max_silence": "5m"},
        },
        "daemon": {
            "listen": f"127.0.0.1:{ports['daemon']}",
            "state": f"sqlite:///{work / 'state.db'}",
            "webhook_token_env": "SRE_WEBHOOK_TOKEN",
        },
        "slack": {"base_url": ports["slack_api"], "routes": real["slack"]["routes"]},
    }


def cap_alert_for(rules_dir: Path, cap: Duration) -> int:
    """Lower every alert's ``for`` above ``cap`` to ``cap`` in the rule files; how many."""
    changed = 0
    for path in sorted(rules_dir.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        for group in data.get("groups") or []:
            for rule in group.get("rules") or []:
                if "for" in rule and Duration.parse(str(rule["for"])) > cap:
                    rule["for"] = str(cap)
                    changed += 1
        path.write_text(dump_yaml(data))
    return changed


class Demo:
    def __init__(self, work: Path, alert_for: Duration | None = None) -> None:
        self.work = work
        self.alert_for = alert_for
        self.procs: list[subprocess.Popen[bytes]] = []
        self.slack = FakeSlack(token=SLACK_TOKEN).start()
        self.services = {name: SyntheticService().__enter__() for name in SERVICES}
        for name, svc in self.services.items():
            svc.set(name, rps=20.0, error_ratio=0.0, latency=0.05)
        self.dead: set[str] = set()
        self.queues = Queues()
        self.ports: dict[str, Any] = {
            "services": {n: s.port for n, s in self.services.items()},
            "queues": self.queues.port,
            "prometheus": free_port(),
            "alertmanager": free_port(),
            "daemon": free_port(),
            "page": free_port(),
            "slack_api": self.slack.base_url,
        }

    # ------------------------------------------------------------------ start

    def start(self) -> None:
        work = self.work
        (work / "secrets" / "sre-webhook").mkdir(parents=True, exist_ok=True)
        (work / "secrets" / "sre-webhook" / "token").write_text(TOKEN + "\n")
        config = work / "sre.yaml"
        config.write_text(yaml.safe_dump(demo_config(work, self.ports), sort_keys=False))
        render = subprocess.run(
            [sys.executable, "-m", "sre.render", "--config", str(config),
             "--out", str(work / "build"), "--runbooks", str(ROOT / "runbooks")],
            capture_output=True, text=True, check=False, cwd=ROOT,
        )  # fmt: skip
        if render.returncode != 0:
            raise RuntimeError(f"render failed:\n{render.stderr}{render.stdout}")
        build = work / "build"
        fast: list[str] = []
        if self.alert_for is not None:
            cap_alert_for(build / "rules", self.alert_for)
            # Prometheus' first sends can go before it has found Alertmanager; it re-sends
            # a firing alert after --rules.alert.resend-delay (1m): in seconds here too.
            fast = ["--rules.alert.resend-delay=2s"]
        self._spawn(
            "prometheus",
            [find_binary("prometheus"), f"--config.file={build / 'prometheus/prometheus.yaml'}",
             f"--storage.tsdb.path={work / 'prometheus-data'}",
             f"--web.listen-address=127.0.0.1:{self.ports['prometheus']}", *fast],
        )  # fmt: skip
        self._spawn(
            "alertmanager",
            [find_binary("prometheus-alertmanager"),
             f"--config.file={build / 'alertmanager/alertmanager.yaml'}",
             f"--storage.path={work / 'alertmanager-data'}",
             f"--web.listen-address=127.0.0.1:{self.ports['alertmanager']}",
             "--cluster.listen-address="],
        )  # fmt: skip
        env = {**os.environ, "SRE_WEBHOOK_TOKEN": TOKEN, "SLACK_BOT_TOKEN": SLACK_TOKEN}
        self._spawn(
            "daemon", [sys.executable, "-m", "sre.daemon", "--config", str(config)], env=env
        )
        wait_for_http(f"http://127.0.0.1:{self.ports['prometheus']}/-/ready", 60)
        wait_for_http(f"http://127.0.0.1:{self.ports['alertmanager']}/-/ready", 60)
        wait_for_http(f"http://127.0.0.1:{self.ports['daemon']}/readyz", 60)
        self.page = ThreadingHTTPServer(("127.0.0.1", self.ports["page"]), self._handler())
        threading.Thread(target=self.page.serve_forever, daemon=True).start()

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = (self.work / f"{name}.log").open("wb")
        self.procs.append(
            subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        )

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        for name, svc in self.services.items():
            if name not in self.dead:
                svc.__exit__()
        self.slack.stop()

    # ------------------------------------------------------------------ switches

    def switch(self, action: str, target: str, value: float) -> str:
        if action == "backlog":
            if target not in self.queues.length:
                raise KeyError(target)
            self.queues.length[target] = value
            return f"queue {target}: {value:g} waiting"
        svc = self.services[target]
        if action == "errors":
            svc.set(target, error_ratio=value)
            return f"{target}: {value:.0%} of requests fail"
        if action == "latency":
            svc.set(target, latency=value)
            return f"{target}: every request takes {value:g}s"
        if action == "kill" and target not in self.dead:
            svc.__exit__()
            self.dead.add(target)
            return f"{target}: killed (its metrics endpoint is gone)"
        raise KeyError(action)

    # ------------------------------------------------------------------ the page

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        demo = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = self.path.strip("/").split("/")
                if parts[:1] == ["switch"] and len(parts) >= 3:
                    try:
                        value = float(parts[3]) if len(parts) > 3 else 0.0
                        text, status = demo.switch(parts[1], parts[2], value), 200
                    except (KeyError, ValueError):
                        text, status = "unknown switch\n", 404
                    self._send(status, "text/plain", text + "\n")
                elif parts == ["messages.json"]:
                    self._send(200, "application/json", json.dumps(demo.messages()))
                else:
                    self._send(200, "text/html; charset=utf-8", demo.page_html())

            def _send(self, status: int, kind: str, body: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass

        return Handler

    def messages(self) -> list[dict[str, Any]]:
        out = []
        for (channel, ts), message in sorted(self.slack.messages.items(), key=lambda m: m[0][1]):
            latest = message.updates[-1] if message.updates else message.body
            out.append(
                {
                    "channel": channel,
                    "ts": ts,
                    "text": str(latest.get("text", "")),
                    "replies": [str(r.get("text", "")) for r in message.thread_replies],
                }
            )
        return out

    def page_html(self) -> str:
        rows = "".join(
            f"<div class=msg><b>{html.escape(m['channel'])}</b> "
            f"<span>{html.escape(m['text'])}</span>"
            + "".join(f"<div class=reply>↳ {html.escape(r)}</div>" for r in m["replies"])
            + "</div>"
            for m in reversed(self.messages())
        )
        return (
            "<!doctype html><meta http-equiv=refresh content=3><title>sre demo: Slack</title>"
            "<style>body{font-family:sans-serif;margin:2em}.msg{border-left:4px solid #e01e5a;"
            "padding:.5em;margin:.5em 0;background:#f8f8f8}.reply{margin-left:1em;color:#555}"
            "</style><h1>Messages the daemon posted to Slack</h1>"
            + (rows or "<p>No messages yet: flip a switch (see the terminal).</p>")
        )

    def banner(self) -> str:
        page = f"http://127.0.0.1:{self.ports['page']}"
        soon = f"~{self.alert_for} (--alert-for)" if self.alert_for else "~2 min"
        return "\n".join(
            [
                "sre demo is running (Ctrl-C stops it all):",
                f"  Slack messages      {page}/",
                f"  Prometheus          http://127.0.0.1:{self.ports['prometheus']}/alerts",
                f"  Alertmanager        http://127.0.0.1:{self.ports['alertmanager']}/",
                f"  SRE daemon metrics  http://127.0.0.1:{self.ports['daemon']}/metrics",
                "Try:",
                f"  curl {page}/switch/errors/api-service/0.2     # 20% errors: "
                f"ServiceHighErrorRate in {soon}",
                f"  curl {page}/switch/latency/web-frontend/2     # p95 above the SLA",
                f"  curl {page}/switch/backlog/agent-tasks/5000   # a queue backlog",
                f"  curl {page}/switch/kill/api-service           # ServiceDown; it inhibits "
                "api-service's error/latency alerts",
                f"Logs and the rendered build/ are in {self.work}",
            ]
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sre.devtools.demo", description=__doc__)
    parser.add_argument("--workdir", default=str(ROOT / ".cache" / "demo"))
    parser.add_argument("--ready-file", help="write the ports as JSON here once running")
    parser.add_argument(
        "--alert-for",
        type=Duration.parse,
        help="cap every alert's `for` at this (e.g. 15s): alerts in seconds, not minutes",
    )
    args = parser.parse_args(argv)
    work = Path(args.workdir).resolve()
    if work.exists():
        import shutil

        shutil.rmtree(work)
    work.mkdir(parents=True)
    demo = Demo(work, args.alert_for)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        demo.start()
        print(demo.banner(), flush=True)
        if args.ready_file:
            Path(args.ready_file).write_text(json.dumps(demo.ports))
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        with contextlib.suppress(OSError):  # the terminal may be gone: stop all the same
            print("stopping...", flush=True)
        demo.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
