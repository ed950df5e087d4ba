"""The local Slack server in a child process (its own GIL), reporting when each alert
name first arrived, per method (``chat.postMessage`` from the daemon, ``webhook`` from
Alertmanager's slack_configs)."""

from __future__ import annotations

import json
import multiprocessing
import re
from multiprocessing.connection import Connection

from sre.devtools.fake_slack import FakeSlack

NAME = re.compile(r"Bench(?:I|AM)\d{6}")


def _slack_child(conn: Connection) -> None:
    with FakeSlack() as slack:
        conn.send((slack.base_url, slack.webhook_url, slack.token))
        while conn.recv() == "dump":
            first: dict[str, tuple[str, float]] = {}
            for call in list(slack.calls):
                if call.method not in ("chat.postMessage", "webhook"):
                    continue
                for name in set(NAME.findall(json.dumps(call.body))):
                    first.setdefault(f"{call.method}:{name}", (call.method, call.received_at))
            conn.send(first)


class SlackChild:
    def __enter__(self) -> SlackChild:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_slack_child, args=(child,), daemon=True)
        self.proc.start()
        if not self.conn.poll(30):
            raise RuntimeError("the Slack server child did not start")
        self.base_url, self.webhook_url, self.token = self.conn.recv()
        return self

    def first_seen(self) -> dict[str, tuple[str, float]]:
        self.conn.send("dump")
        result: dict[str, tuple[str, float]] = self.conn.recv()
        return result

    def __exit__(self, *exc: object) -> None:
        self.conn.send("stop")
        self.proc.join(10)
