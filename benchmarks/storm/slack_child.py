"""The local Slack server, with Slack's rate limits, in a child process (its own GIL),
reporting every message it stored and how many calls it answered 429."""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection
from typing import Any

from sre.devtools.fake_slack import FakeSlack
from tests.helpers.storm import record


def _child(conn: Connection) -> None:
    with FakeSlack() as slack:  # Slack's limits: about 1 post/s per channel
        conn.send((slack.base_url, slack.token))
        while conn.recv() == "dump":
            conn.send(record(slack))


class StormSlack:
    def __enter__(self) -> StormSlack:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_child, args=(child,), daemon=True)
        self.proc.start()
        if not self.conn.poll(30):
            raise RuntimeError("the Slack server child did not start")
        self.base_url, self.token = self.conn.recv()
        return self

    def dump(self) -> dict[str, Any]:
        self.conn.send("dump")
        result: dict[str, Any] = self.conn.recv()
        return result

    def __exit__(self, *exc: object) -> None:
        self.conn.send("stop")
        self.proc.join(10)
