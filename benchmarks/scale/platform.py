"""A synthetic platform of N services scraped by a real Prometheus that evaluates our rules.

Each service is its own scrape target (``/metrics/<service>`` of one synthetic exporter,
labelled ``service``), so ``up`` and every ``http_*`` series look as they would on a real
platform. :meth:`Platform.rule_groups` reads Prometheus' own
``prometheus_rule_group_last_duration_seconds`` (how long the last evaluation of each group
took) from its ``/metrics``.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from rules import all_groups
from sre.config import Config
from sre.devtools.synthetic import Prometheus, SyntheticService
from sre.render.rulefiles import rule_files

JOB = "synthetic"
SELECTOR = f'job="{JOB}"'  # selectors.applications of a config for this platform


@dataclass(frozen=True)
class GroupStats:
    name: str
    last_duration_s: float
    last_evaluation: float  # Unix time
    rules: int
    samples: int


def write_rules(cfg: Config, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in rule_files(all_groups(cfg)).items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def _scrape_configs(target: str, services: list[str], interval: str) -> str:
    groups = "".join(
        f"      - targets: ['{target}']\n"
        f"        labels: {{service: {name}, __metrics_path__: /metrics/{name}}}\n"
        for name in services
    )
    return f"  - job_name: {JOB}\n    scrape_interval: {interval}\n    static_configs:\n{groups}"


class Platform:
    def __init__(self, prometheus: Prometheus, synthetic: SyntheticService | None) -> None:
        self.prometheus = prometheus
        self.synthetic = synthetic

    def query(self, expr: str) -> list[dict[str, Any]]:
        url = f"{self.prometheus.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=30) as response:
            body = json.load(response)
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def _own_metrics(self) -> str:
        """Prometheus' own /metrics (it does not scrape itself here)."""
        with urllib.request.urlopen(f"{self.prometheus.url}/metrics", timeout=30) as response:
            return str(response.read().decode())

    def own_total(self, name: str) -> float:
        """The sum of every sample of Prometheus' own metric ``name``."""
        return sum(
            sample.value
            for family in text_string_to_metric_families(self._own_metrics())
            for sample in family.samples
            if sample.name == name
        )

    def rule_groups(self) -> list[GroupStats]:
        text = self._own_metrics()
        values: dict[str, dict[str, float]] = {}
        wanted = {
            "prometheus_rule_group_last_duration_seconds": "duration",
            "prometheus_rule_group_last_evaluation_timestamp_seconds": "at",
            "prometheus_rule_group_rules": "rules",
            "prometheus_rule_group_last_evaluation_samples": "samples",
        }
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                key = wanted.get(sample.name)
                if key is not None:
                    values.setdefault(sample.labels["rule_group"], {})[key] = sample.value
        return [
            GroupStats(
                name=group.split(";", 1)[-1],
                last_duration_s=v.get("duration", 0.0),
                last_evaluation=v.get("at", 0.0),
                rules=int(v.get("rules", 0)),
                samples=int(v.get("samples", 0)),
            )
            for group, v in sorted(values.items())
        ]

    def wait_for_evaluations(self, rounds: int, timeout: float) -> None:
        """Until every group has been evaluated ``rounds`` more times (or ``timeout``)."""
        deadline = time.monotonic() + timeout
        start = {g.name: g.last_evaluation for g in self.rule_groups()}
        seen: dict[str, set[float]] = {name: set() for name in start}
        while time.monotonic() < deadline:
            for group in self.rule_groups():
                if group.last_evaluation > start.get(group.name, 0.0):
                    seen.setdefault(group.name, set()).add(group.last_evaluation)
            if seen and all(len(times) >= rounds for times in seen.values()):
                return
            time.sleep(0.5)
        raise TimeoutError(f"rule groups not evaluated {rounds} times within {timeout:.0f}s")


class SyntheticPlatform(Platform):
    """A platform whose services the synthetic exporter serves."""

    synthetic: SyntheticService


@contextmanager
def platform(
    tmp: Path,
    cfg: Config,
    *,
    rps: float = 5.0,
    error_ratio: float = 0.0002,
    interval: str = "10s",
) -> Iterator[SyntheticPlatform]:
    """Every service of ``cfg`` serving ``rps`` requests/s with ``error_ratio`` 5xx, each
    scraped every ``interval``; Prometheus evaluates ``cfg``'s rules every ``interval``."""
    names = [s.name for s in cfg.services]
    rules = write_rules(cfg, tmp / "rules")
    with SyntheticService() as synthetic:
        for name in names:
            synthetic.set(name, rps=rps, error_ratio=error_ratio, latency=0.05)
        prom = Prometheus(
            tmp,
            [],
            scrape_interval=interval,
            evaluation_interval=interval,
            rule_files=rules,
            scrape_configs=_scrape_configs(synthetic.target, names, interval),
        )
        with prom:
            yield SyntheticPlatform(prom, synthetic)
