"""The retention check against a real Prometheus (2.42 and 3.5): its runtimeinfo is read,
judged against the rules' longest window (30d with an SLO), and said once; in the real
daemon process too, where an unreachable Prometheus is a warning and never a crash."""

from __future__ import annotations

import asyncio
import logging
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from sre.checks.retention import RetentionVerdict
from sre.clients.prometheus import PrometheusClient
from sre.config import parse_config
from sre.features.retention.feature import RetentionFeature
from sre.features.retention.window import rules_window
from tests.helpers import find_binary, free_port, wait_for_http
from tests.helpers.daemon import DaemonProcess, base_config

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prometheus_versions")]
SERVICES = [{"name": "api", "namespace": "ns", "slo": {"availability": 99.9}}]


@contextmanager
def prometheus(tmp: Path, *flags: str) -> Iterator[str]:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "prometheus.yml").write_text("global: {scrape_interval: 15s}\n")
    port = free_port()
    proc = subprocess.Popen(
        [find_binary("prometheus"), f"--config.file={tmp / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
         *flags],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/-/ready")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def checked(url: str, times: int = 2) -> tuple[list[RetentionVerdict | None], dict[str, float]]:
    cfg = parse_config({"system": "t", "prometheus": {"url": url}, "services": SERVICES})
    longest, why = rules_window(cfg)
    assert str(longest) == "30d", why
    registry = CollectorRegistry()

    async def go() -> list[RetentionVerdict | None]:
        async with aiohttp.ClientSession() as session:
            feature = RetentionFeature(PrometheusClient(url, session), longest, registry=registry)
            return [await feature.check() for _ in range(times)]

    verdicts = asyncio.run(go())
    names = ("retention_seconds", "rules_longest_window_seconds", "retention_short")
    found = {}
    for name in names:
        full = name if name.startswith("rules") else f"prometheus_{name}"
        value = registry.get_sample_value(f"sre_{full}")
        if value is not None:
            found[name] = value
    return verdicts, found


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_a_10_day_retention_is_said_once_with_both_figures(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with prometheus(tmp_path, "--storage.tsdb.retention.time=10d") as url:
        verdicts, metrics = checked(url)
    assert [v.outcome if v else None for v in verdicts] == ["fail", "fail"]
    said = warnings(caplog)
    assert len(said) == 1, said  # a finding is said when it changes, not every run
    assert "keeps 10d of history" in said[0] and "read up to 30d" in said[0]
    assert metrics == {
        "retention_seconds": 10 * 86400,
        "rules_longest_window_seconds": 30 * 86400,
        "retention_short": 1,
    }


def test_30_days_pass_and_a_size_limit_alone_is_no_verdict(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with prometheus(tmp_path / "a", "--storage.tsdb.retention.time=30d") as url:
        verdicts, metrics = checked(url, times=1)
    assert verdicts[0] is not None and verdicts[0].outcome == "pass"
    assert metrics["retention_short"] == 0 and warnings(caplog) == []
    with prometheus(tmp_path / "b", "--storage.tsdb.retention.size=1GB") as url:
        verdicts, metrics = checked(url, times=1)
    assert verdicts[0] is not None and verdicts[0].outcome == "no_verdict"
    assert "retention_short" not in metrics and "retention_seconds" not in metrics
    assert "size only (1GiB)" in warnings(caplog)[0]


def test_the_daemon_checks_at_start_and_survives_no_answer(tmp_path: Path) -> None:
    with prometheus(tmp_path / "prom") as url:  # Prometheus' default: 15d
        config = base_config(tmp_path / "one", prometheus={"url": url}, services=SERVICES)
        daemon = DaemonProcess(tmp_path, config, name="one.yaml")
        try:
            daemon.wait_ready()
            _, metrics = daemon.get("/metrics")
            assert "sre_prometheus_retention_short 1.0" in metrics
        finally:
            assert daemon.stop() == 0
    lines = [line for line in daemon.output().splitlines() if "retention check" in line]
    assert len(lines) == 1 and "WARNING" in lines[0], daemon.output()
    assert "keeps 15d" in lines[0] and "read up to 30d" in lines[0]
    page = (Path(__file__).resolve().parents[2] / "docs" / "alerting-pipeline.md").read_text()
    shown = next(x for x in page.splitlines() if x.startswith("WARNING sre.features.retention"))
    assert lines[0].endswith(shown.removeprefix("WARNING").strip())  # the documented line

    gone = f"http://127.0.0.1:{free_port()}"
    config = base_config(tmp_path / "two", prometheus={"url": gone}, services=SERVICES)
    daemon = DaemonProcess(tmp_path, config, name="two.yaml")
    try:
        daemon.wait_ready()
        assert "sre_prometheus_retention_short" not in daemon.get("/metrics")[1]
    finally:
        assert daemon.stop() == 0
    assert "cannot read the retention of Prometheus" in daemon.output()
    assert "(unreachable)" in daemon.output() and "Traceback" not in daemon.output()

    config = base_config(tmp_path / "three", services=SERVICES)
    del config["prometheus"]
    daemon = DaemonProcess(tmp_path, config, name="three.yaml")
    try:
        daemon.wait_ready()
    finally:
        assert daemon.stop() == 0
    assert "prometheus: section absent, retention check and auto-rollback off" in daemon.output()
    assert "retention check:" not in daemon.output()
