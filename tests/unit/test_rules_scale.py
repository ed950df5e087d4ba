"""Rules at scale: one rule covers every service, per-service numbers are joined series, and
the PrometheusRule objects stay within what Kubernetes and ``kubectl apply`` accept."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmarks.scale import generate
from rules import all_groups
from sre import catalog
from sre.config import Config, load_config, parse_config
from sre.render import kubernetes
from sre.render.rulefiles import rule_files
from tests.helpers import find_binary


def _generated(tmp_path: Path, n: int) -> Config:
    return load_config(generate.write(tmp_path / f"n{n}", n))


def test_only_the_thresholds_file_depends_on_the_services(tmp_path: Path) -> None:
    small, large = _generated(tmp_path, 100), _generated(tmp_path, 500)
    assert len(large.services) == 500
    files_small, files_large = rule_files(all_groups(small)), rule_files(all_groups(large))
    assert set(files_small) == set(files_large)
    for name in files_small:
        if name != "thresholds.yaml":
            assert files_small[name] == files_large[name], name

    # The same rules, whatever the number of services (one alert per distinct `for`, not per
    # service); only the catalogue has a record per service.
    def rules(cfg: Config) -> list[str]:
        return [r.name for g in all_groups(cfg) for r in g.rules if r.name != catalog.SERVICE_INFO]

    assert rules(small) == rules(large)
    assert len(rules(large)) < 80
    catalogue = [r for g in all_groups(large) for r in g.records if r.name == catalog.SERVICE_INFO]
    assert len(catalogue) == 500
    assert {r.expr for r in catalogue} == {"vector(1)"}
    # The thresholds grow with the services, by a catalogue line each and the names of the
    # services that differ from the usual values.
    assert len(files_large["thresholds.yaml"]) < 150 * 500


def _cfg(services: list[dict[str, Any]]) -> Config:
    return parse_config(
        {
            "system": "t",
            "prometheus": {"url": "http://prometheus:9090"},
            "runbooks": {"base_url": "https://example.com/runbooks/"},
            "services": services,
        }
    )


def _rollback(**extra: object) -> dict[str, object]:
    return {"target": {"kind": "deployment", "name": "x"}, **extra}


MIXED = [
    {"name": "fast", "namespace": "a", "rollback": _rollback(), "slo": {"availability": 99.9}},
    {
        "name": "slow",
        "namespace": "a",
        "rollback": _rollback(**{"for": "5m", "error_rate_above": 0.02, "min_request_rate": 1}),
        "slo": {"availability": 99.5},
    },
    {"name": "quiet", "namespace": "b", "rollback": _rollback(**{"for": "5m"})},
    {"name": "plain", "namespace": "b", "slo": {"availability": 99.5}},
    {"name": "other", "namespace": "c", "slo": {"availability": 99}},
]


def _promtool_test(tmp_path: Path, cfg: Config, test: dict[str, Any]) -> str:
    for name, text in rule_files(all_groups(cfg)).items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    spec = {
        "rule_files": ["thresholds.yaml", "services.yaml"],
        "evaluation_interval": "1m",
        "group_eval_order": ["t.thresholds.recording", "t.services.alerts"],
        "tests": [test],
    }
    path = tmp_path / "scale_test.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    result = subprocess.run(
        [find_binary("promtool"), "test", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result.stdout + result.stderr


def _series(record: str, values: dict[str, str]) -> list[dict[str, str]]:
    return [
        {"series": f'{record}{{service="{name}"}}', "values": value}
        for name, value in values.items()
    ]


def _alert(name: str, threshold: str, for_: str, ratio: str) -> dict[str, Any]:
    return {
        "exp_labels": {
            "severity": "critical",
            "environment": "production",
            "service": name,
            "for": for_,
        },
        "exp_annotations": {
            "summary": "A service answers too many requests with 5xx",
            "description": f"{name} answered {ratio} of its requests with 5xx over 5m "
            f"(threshold {threshold}, for {for_}).",
            "runbook_url": "https://example.com/runbooks/ServiceHighErrorRate.md",
        },
    }


def test_each_service_alerts_on_its_own_threshold_after_its_own_for(tmp_path: Path) -> None:
    cfg = _cfg(MIXED)
    assert {a.labels["for"] for g in all_groups(cfg) for a in g.alerts if a.labels.get("for")} == {
        "2m",
        "5m",
    }
    test = {
        "interval": "1m",
        "input_series": [
            *_series(
                catalog.ERROR_RATIO,
                {"fast": "0.1x10", "slow": "0.03x10", "quiet": "0.03x10", "plain": "0.06x10"},
            ),
            # slow needs 1 req/s; quiet (0.1 req/s by default) has 0.5
            *_series(
                catalog.REQUEST_RATE,
                {"fast": "10x10", "slow": "10x10", "quiet": "0.5x10", "plain": "0.05x10"},
            ),
        ],
        "alert_rule_test": [
            {
                "alertname": "ServiceHighErrorRate",
                "eval_time": "3m",
                "exp_alerts": [_alert("fast", "0.05", "2m", "10%")],
            },
            {
                "alertname": "ServiceHighErrorRate",
                "eval_time": "6m",
                "exp_alerts": [
                    _alert("fast", "0.05", "2m", "10%"),
                    _alert("slow", "0.02", "5m", "3%"),
                ],
            },
        ],
    }
    output = _promtool_test(tmp_path, cfg, test)
    assert "SUCCESS" in output, output


def test_per_service_numbers_are_exact_for_every_service(tmp_path: Path) -> None:
    cfg = _cfg(MIXED)
    expected: dict[str, dict[str, float]] = {
        catalog.SLO_ERROR_BUDGET: {"fast": 0.001, "slow": 0.005, "plain": 0.005, "other": 0.01},
        catalog.ERROR_RATIO_THRESHOLD: {s: 0.05 for s in ("fast", "quiet", "plain", "other")}
        | {"slow": 0.02},
        catalog.ERROR_RATIO_FOR: {"fast": 120, "slow": 300, "quiet": 300, "plain": 120}
        | {"other": 120},
        catalog.MIN_REQUEST_RATE_THRESHOLD: {s: 0.1 for s in ("fast", "quiet", "plain", "other")}
        | {"slow": 1},
    }
    spaces = {s["name"]: s["namespace"] for s in MIXED}
    cases = [
        {
            "expr": record,
            "eval_time": "1m",
            "exp_samples": [
                {"labels": f'{record}{{service="{n}", namespace="{spaces[n]}"}}', "value": v}
                for n, v in values.items()
            ],
        }
        for record, values in expected.items()
    ]
    output = _promtool_test(tmp_path, cfg, {"interval": "1m", "promql_expr_test": cases})
    assert "SUCCESS" in output, output


def test_prometheus_rules_split_by_size_between_groups(cfg_default: Config) -> None:
    groups = all_groups(cfg_default)
    whole = kubernetes.KubernetesOutput()
    kubernetes.prometheus_rules(cfg_default, groups, whole)
    assert "prometheusrule-recording.yaml" in whole.files
    assert not any(name.endswith("-2.yaml") for name in whole.files)
    # With a small budget the two recording groups go into two objects, in order.
    recording = yaml.safe_load(whole.files["prometheusrule-recording.yaml"])
    budget = len(json.dumps(recording, separators=(",", ":"))) - 1
    split = kubernetes.KubernetesOutput()
    kubernetes.prometheus_rules(cfg_default, groups, split, budget=budget)
    first = yaml.safe_load(split.files["prometheusrule-recording.yaml"])
    second = yaml.safe_load(split.files["prometheusrule-recording-2.yaml"])
    assert first["metadata"]["name"] == "parallel-ai-recording"
    assert second["metadata"]["name"] == "parallel-ai-recording-2"
    names = [g.name for g in groups if g.file == "recording"]
    assert [g["name"] for g in first["spec"]["groups"] + second["spec"]["groups"]] == names
    for text in split.files.values():
        obj = yaml.safe_load(text)
        fits = len(json.dumps(obj, separators=(",", ":"))) <= budget
        assert fits or len(obj["spec"]["groups"]) == 1


@pytest.fixture(scope="module")
def cfg_default() -> Config:
    return load_config(Path(__file__).resolve().parents[2] / "sre.yaml")


def test_a_service_without_rollback_or_slo_still_gets_the_default_alert() -> None:
    cfg = _cfg([{"name": "lone", "namespace": "x"}])
    names = [a.alert for g in all_groups(cfg) for a in g.alerts]
    assert names.count("ServiceHighErrorRate") == 1 and "ServiceHighLatency" not in names
