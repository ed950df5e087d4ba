"""Alert delivery during incidents, with the real daemon process and the local Slack server
enforcing Slack's rate limits (issue 11): a storm with SIGKILLs, a Slack that answers too
late or drops the connection, and a state volume that fills up.

The figures of the full-size storm are ``make bench BENCH=storm``; these tests check the
guarantees (nothing lost, nothing posted twice, nothing orphaned) on a smaller one.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sre.devtools.fake_slack import FakeSlack, Message
from tests.helpers.alertmanager import alert_json, webhook
from tests.helpers.daemon import DaemonProcess, base_config
from tests.helpers.storm import TOKEN, Report, analyse, record, send_storm, storm_config

pytestmark = pytest.mark.integration
WEBHOOK_TOKEN = "itest-webhook-token"  # base_config's daemon gets it from DaemonProcess


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def alert_body(name: str, status: str = "firing") -> bytes:
    alert = alert_json(name, status=status, fingerprint=f"fp-{name}")
    return json.dumps(webhook([alert], group_key=f"{{}}:{name}")).encode()


def post_alert(daemon: DaemonProcess, name: str, status: str = "firing") -> int:
    body = alert_body(name, status)
    return daemon.request("POST", "/alertmanager", body, WEBHOOK_TOKEN)[0]


def own_message(slack: FakeSlack, name: str) -> list[Message]:
    return [m for m in slack.top_level() if name in m.text]


# ---------------------------------------------------------------------- storm with crashes

GROUPS, SECONDS, CRITICAL_EVERY, KILLS = 80, 6.0, 8, 2


def test_a_storm_with_sigkills_loses_nothing_posts_nothing_twice_orphans_nothing(
    tmp_path: Path,
) -> None:
    with FakeSlack() as slack:  # about 1 post/s per channel, as Slack
        config = storm_config(tmp_path, slack.base_url)
        config["slack"]["digest_after"] = "10s"  # the warnings' backlog makes a digest
        env = {"SRE_WEBHOOK_TOKEN": TOKEN, "SLACK_BOT_TOKEN": slack.token}
        daemon = DaemonProcess(tmp_path, config, env=env, name="run0.yaml")
        daemon.wait_ready()

        async def storm_with_kills() -> list[Any]:
            nonlocal daemon
            url = daemon.url("/alertmanager")
            sending = asyncio.create_task(
                send_storm(url, GROUPS, SECONDS, critical_every=CRITICAL_EVERY)
            )
            for n in range(1, KILLS + 1):
                await asyncio.sleep(SECONDS / (KILLS + 1))
                daemon.proc.send_signal(signal.SIGKILL)
                await asyncio.to_thread(daemon.wait)
                daemon = DaemonProcess(tmp_path, config, env=env, name=f"run{n}.yaml")
                await asyncio.to_thread(daemon.wait_ready)
            return await sending

        try:
            sent = asyncio.run(storm_with_kills())
            names = [s.name for s in sent]
            critical = [s.name for s in sent if s.critical]
            assert len(names) == GROUPS  # every webhook was accepted in the end

            def done() -> Report | None:
                report = analyse(record(slack), GROUPS)
                own = all(n in report.first_own for n in critical)
                return report if own and not report.missing(names) else None

            wait_until(lambda: done() is not None, 120, "every group visible in Slack")
            report = done()
            assert report is not None
            assert report.duplicates() == []  # at most once, across two SIGKILLs
            assert report.digests >= 1  # the warnings' backlog went into a digest

            # No orphan: each critical group's one message turns green when it resolves.
            for name in critical:
                resolved = alert_body_for_storm(name)
                status, _ = daemon.request("POST", "/alertmanager", resolved, TOKEN)
                assert status == 200
            wait_until(
                lambda: all(
                    any("RESOLVED" in json.dumps(u) for u in own_message(slack, n)[0].updates)
                    for n in critical
                ),
                60,
                "every critical message resolved in place",
            )
            assert all(len(own_message(slack, n)) == 1 for n in critical)
        finally:
            assert daemon.stop() == 0
        assert "Traceback" not in daemon.output()


def alert_body_for_storm(name: str) -> bytes:
    """The resolve of storm group ``name`` (``tests.helpers.storm.group``'s labels)."""
    i = int(name.removeprefix("Storm"))
    alert = alert_json(
        name,
        status="resolved",
        severity="critical" if i % CRITICAL_EVERY == 0 else "warning",
        service=f"svc-{i % 50}",
        fingerprint=f"fp{i:04d}",
    )
    return json.dumps(webhook([alert], group_key=f'{{}}:{{alertname="{name}"}}')).encode()


# ---------------------------------------------------------------------- slow / dropping Slack


def slack_config(tmp: Path, slack: FakeSlack, **daemon: Any) -> dict[str, Any]:
    config = base_config(tmp)
    config["daemon"].update(daemon)
    config["slack"] = {"base_url": slack.base_url, "routes": [{"channel": "#alerts"}]}
    return config


def test_a_late_or_lost_answer_from_slack_never_posts_a_group_twice(tmp_path: Path) -> None:
    with FakeSlack() as slack:
        daemon = DaemonProcess(
            tmp_path, slack_config(tmp_path, slack), env={"SLACK_BOT_TOKEN": slack.token}
        )
        daemon.wait_ready()
        try:
            # Stored at once, answered after the client's 10 s timeout.
            slack.delay_next(1, 12.0)
            assert post_alert(daemon, "Late") == 200
            wait_until(lambda: len(slack.posts()) >= 1, 10, "the late post")
            # Stored, then the connection closes without an answer.
            slack.drop_next(1)
            assert post_alert(daemon, "Lost") == 200
            try:
                wait_until(
                    lambda: daemon.metric("sre_slack_recovered_posts_total") == 2,
                    40,
                    "both posts found in Slack's history and kept",
                )
            except AssertionError:
                print(daemon.output())
                print(
                    [
                        (c.method, c.received_at, c.body.get("text", "")[:30] or c.body)
                        for c in slack.calls
                    ]
                )
                print({k: (m.ts, m.metadata) for k, m in slack.messages.items()})
                raise
            for name in ("Late", "Lost"):
                assert post_alert(daemon, name, "resolved") == 200
            wait_until(
                lambda: all(
                    m.updates and "RESOLVED" in json.dumps(m.updates[-1])
                    for n in ("Late", "Lost")
                    for m in own_message(slack, n)
                ),
                30,
                "both messages resolved in place",
            )
            assert [len(own_message(slack, n)) for n in ("Late", "Lost")] == [1, 1]
            assert len(slack.top_level()) == 2  # never posted again (notes go in threads)
        finally:
            assert daemon.stop() == 0
        assert "Traceback" not in daemon.output()


# ---------------------------------------------------------------------- a full disk


@pytest.fixture
def small_volume(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs: a state volume that can fill up (mounting needs root; CI is root)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    volume = tmp_path / "volume"
    volume.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(volume)], check=True)
    try:
        yield volume
    finally:
        subprocess.run(["umount", "-l", str(volume)], check=False)


def fill(volume: Path) -> Path:
    filler = volume / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler


def test_a_full_state_volume_answers_503_pauses_and_recovers_by_itself(
    tmp_path: Path, small_volume: Path
) -> None:
    with FakeSlack() as slack:
        config = slack_config(tmp_path, slack, state=f"sqlite:///{small_volume}/state.db")
        daemon = DaemonProcess(tmp_path, config, env={"SLACK_BOT_TOKEN": slack.token})
        daemon.wait_ready()
        try:
            assert post_alert(daemon, "Before") == 200
            wait_until(lambda: len(slack.posts()) == 1, 10, "the first post")
            filler = fill(small_volume)

            # Webhooks until the store refuses one: what SQLite still had room for (its WAL
            # is reused) is accepted and must be delivered later; the refusal is a 503.
            accepted, refused = [], []
            for i in range(300):
                name = f"Full{i:03d}"
                status = post_alert(daemon, name)
                assert status in (200, 503), status
                (accepted if status == 200 else refused).append(name)
                if refused:
                    break
            assert refused, "the store never refused a write on a full volume"
            wait_until(lambda: daemon.get("/readyz")[0] == 503, 10, "/readyz to report the store")
            assert "state store not writable" in daemon.get("/readyz")[1]
            posts_while_full = len(slack.posts())
            time.sleep(5)  # delivery pauses with backoff: no loop, no repeats
            assert len(slack.posts()) - posts_while_full <= len(accepted)
            log_while_full = daemon.output().count("\n")

            filler.unlink()  # space returns: everything resumes by itself
            wait_until(lambda: daemon.get("/readyz")[0] == 200, 40, "ready again")
            assert post_alert(daemon, "After") == 200
            for name in refused:  # Alertmanager retries what got a 503
                assert post_alert(daemon, name) == 200
            everything = ["Before", *accepted, *refused, "After"]
            wait_until(
                lambda: all(own_message(slack, n) for n in everything),
                60,
                "every accepted group in Slack",
            )
            assert all(len(own_message(slack, n)) == 1 for n in everything)
            failed = daemon.metric('sre_slack_deliveries_total{result="permanent_error"}')
            assert failed == 0  # never marked failed because the disk was full
            assert (daemon.metric("sre_alerts_store_errors_total") or 0) >= 1
        finally:
            assert daemon.stop() == 0
        output = daemon.output()
        assert "Traceback" not in output
        assert log_while_full < 200  # a few lines per backoff step, not a line per loop
