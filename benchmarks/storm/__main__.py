"""Alert storm benchmark: ``python -m benchmarks.storm`` (figures only, never asserts).

The real daemon process, the local Slack server in a child process enforcing Slack's
documented rate limits (about one post a second per channel, short bursts), and 1,000
alert groups sent as Alertmanager webhooks over 5 s, 5% of them critical (``#alerts``),
the rest warnings (``#devops-alerts``). Then, on the same setup, a storm during which the
daemon is SIGKILLed three times and restarted on the same state.

Figures, each beside its target (issue 11): the first critical group in Slack after its
webhook; every critical group after the storm began; every group visible (its own
message or a digest naming it); the 429 answers; groups posted twice; the webhook p99.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.alerts.load import pct
from benchmarks.storm.slack_child import StormSlack
from tests.helpers.daemon import DaemonProcess
from tests.helpers.storm import TOKEN, Report, Sent, analyse, send_storm, storm_config

GROUPS, SECONDS, CRITICAL_EVERY = 1000, 5.0, 20
WAIT_SECONDS = 200.0
TARGETS = {
    "first_critical_s": 5.0,
    "all_critical_s": 60.0,
    "all_visible_s": 180.0,
    "throttled": 20,
    "duplicates": 0,
    "p99_ms": 50.0,
}


def wait_visible(slack: StormSlack, names: list[str], limit: float) -> Report:
    deadline = time.monotonic() + limit
    while True:
        report = analyse(slack.dump(), len(names))
        if not report.missing(names) or time.monotonic() > deadline:
            return report
        time.sleep(2)


def line(label: str, value: float, target: float, unit: str = "", *, at_most: bool = True) -> str:
    ok = value <= target if at_most else value >= target
    verdict = "ok" if ok else "MISSED"
    bound = f"{'<=' if at_most else '>='} {target:g}{unit}"
    return f"  {label:<52} {value:>9.2f}{unit:<3} target {bound}  {verdict}"


def storm(tmp: Path, slack: StormSlack) -> None:
    tmp.mkdir(parents=True)
    config = storm_config(tmp, slack.base_url)
    daemon = DaemonProcess(
        tmp, config, env={"SRE_WEBHOOK_TOKEN": TOKEN, "SLACK_BOT_TOKEN": slack.token}
    )
    daemon.wait_ready()
    started = time.time()
    sent: list[Sent] = asyncio.run(
        send_storm(daemon.url("/alertmanager"), GROUPS, SECONDS, critical_every=CRITICAL_EVERY)
    )
    names = [s.name for s in sent]
    report = wait_visible(slack, names, WAIT_SECONDS)
    daemon.stop(signal.SIGTERM)
    critical = [s for s in sent if s.critical]
    firsts = [report.first_own[s.name] - s.at for s in critical if s.name in report.first_own]
    first_critical = min(firsts) if firsts else float("inf")
    all_critical = (
        max((report.first_own.get(s.name, float("inf")) for s in critical), default=0) - started
    )
    all_visible = max((report.visible.get(n, float("inf")) for n in names), default=0) - started
    p99 = pct([s.seconds * 1000 for s in sent], 0.99)
    print(
        f"storm: {GROUPS} groups in {SECONDS:g}s, {len(critical)} critical; "
        f"{report.digests} digest(s)"
    )
    print(
        line(
            "first critical group in Slack after its webhook",
            first_critical,
            TARGETS["first_critical_s"],
            "s",
        )
    )
    print(
        line(
            "every critical group, after the storm began",
            all_critical,
            TARGETS["all_critical_s"],
            "s",
        )
    )
    print(
        line(
            "every group visible (own message or digest)",
            all_visible,
            TARGETS["all_visible_s"],
            "s",
        )
    )
    print(line("answers 429 from Slack", report.throttled, TARGETS["throttled"]))
    print(line("groups posted twice", len(report.duplicates()), TARGETS["duplicates"]))
    print(line("webhook response p99", p99, TARGETS["p99_ms"], "ms"))
    print(f"  groups never visible: {len(report.missing(names))}")


def crashes(tmp: Path, slack: StormSlack, kills: int = 3) -> None:
    tmp.mkdir(parents=True)
    config = storm_config(tmp, slack.base_url)
    env = {"SRE_WEBHOOK_TOKEN": TOKEN, "SLACK_BOT_TOKEN": slack.token}
    daemon = DaemonProcess(tmp, config, env=env, name="crash0.yaml")
    daemon.wait_ready()

    async def storm_with_kills() -> list[Sent]:
        nonlocal daemon
        sending = asyncio.create_task(
            send_storm(
                daemon.url("/alertmanager"), GROUPS, SECONDS * 4, critical_every=CRITICAL_EVERY
            )
        )
        for n in range(1, kills + 1):
            await asyncio.sleep(SECONDS * 4 / (kills + 1))
            daemon.proc.send_signal(signal.SIGKILL)
            daemon.wait()
            daemon = DaemonProcess(tmp, config, env=env, name=f"crash{n}.yaml")
            await asyncio.to_thread(daemon.wait_ready)
        return await sending

    sent = asyncio.run(storm_with_kills())
    names = [s.name for s in sent]
    report = wait_visible(slack, names, WAIT_SECONDS)
    daemon.stop(signal.SIGTERM)
    print(
        f"crash: {GROUPS} groups over {SECONDS * 4:g}s, SIGKILL x{kills}, "
        "restarted on the same state"
    )
    print(line("groups lost (never visible)", len(report.missing(names)), 0))
    print(line("groups posted twice", len(report.duplicates()), 0))


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="storm-") as tmp, StormSlack() as slack:
        storm(Path(tmp) / "storm", slack)
    with tempfile.TemporaryDirectory(prefix="storm-") as tmp, StormSlack() as slack:
        crashes(Path(tmp) / "crash", slack)
    return 0


if __name__ == "__main__":
    sys.exit(main())
