"""The rollback trigger and the error-rate alert read the same PromQL (``sre.promql``).

One series set is fed to real promtool. With the trigger's rate window equal to the
recording rules' 5m, the trigger's error-ratio query must give exactly the recorded
``service:http_requests_errors:ratio_rate5m`` at every evaluation, and the alert must fire
exactly when the trigger's samples have been above the same threshold for ``for``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from rules import all_groups
from sre import catalog
from sre.config import Config, parse_config
from sre.features.rollback.queries import batches, trigger_queries
from sre.render.rulefiles import rule_files
from tests.helpers import find_binary


def _config(*others: str) -> Config:
    return parse_config(
        {
            "system": "agree",
            "prometheus": {"url": "http://prometheus:9090"},
            "runbooks": {"base_url": "https://example.com/runbooks/"},
            "services": [
                {
                    "name": name,
                    "namespace": "apps",
                    "rollback": {
                        "target": {"kind": "deployment", "name": name},
                        "error_rate_above": 0.05,
                        "for": "10m",
                    },
                }
                for name in ("api", *others)
            ],
            "daemon": {"rollbacks": {"rate_window": "5m"}},
        }
    )


# 20 minutes of 100 requests/min, 20 minutes with 10 of every 100 failing, 30 clean minutes.
SERIES = [
    {
        "series": 'http_requests_total{service="api", code="200"}',
        "values": "0+100x20 2000+90x20 3800+100x30",
    },
    {
        "series": 'http_requests_total{service="api", code="500"}',
        "values": "0+0x20 0+10x20 200+0x30",
    },
]
MINUTES = range(15, 71)


def _run(tmp_path: Path, cfg: Config, tests: list[dict[str, object]]) -> str:
    for name, text in rule_files(all_groups(cfg)).items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    spec = {
        "rule_files": ["recording.yaml", "thresholds.yaml", "services.yaml"],
        "evaluation_interval": "1m",
        # promtool evaluates groups in map order unless told; Prometheus runs them side by
        # side. Recording first is the order under which the two must agree minute by minute.
        "group_eval_order": [
            "agree.http.recording",
            "agree.thresholds.recording",
            "agree.services.alerts",
        ],
        "tests": tests,
    }
    test_file = tmp_path / "agreement_test.yaml"
    test_file.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    result = subprocess.run(
        [find_binary("promtool"), "test", "rules", str(test_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    return result.stdout + result.stderr + f"\nexit {result.returncode}"


def test_trigger_query_equals_the_recorded_error_ratio(tmp_path: Path) -> None:
    cfg = _config()
    trigger = trigger_queries(cfg, cfg.services[0]).error_ratio
    assert trigger is not None
    # The difference between the two is exactly 0 before, during and after the errors.
    difference = f"({trigger}) - on (service) {catalog.ERROR_RATIO}"
    zero = [{"labels": '{service="api"}', "value": 0}]
    cases = [{"expr": difference, "eval_time": f"{m}m", "exp_samples": zero} for m in MINUTES]
    cases.append(
        {
            "expr": trigger,
            "eval_time": "35m",
            "exp_samples": [{"labels": '{service="api"}', "value": 0.1}],
        }
    )
    output = _run(
        tmp_path, cfg, [{"interval": "1m", "input_series": SERIES, "promql_expr_test": cases}]
    )
    assert "SUCCESS" in output, output


def test_the_batched_query_equals_the_recorded_error_ratio_of_each_service(
    tmp_path: Path,
) -> None:
    # What a cycle sends: one error-ratio query over every service (batches of queries.py).
    cfg = _config("web")
    (batch,) = batches(cfg, cfg.services)
    trigger = batch.queries.error_ratio
    assert trigger is not None and 'service=~"api|web"' in trigger
    web = [
        {"series": s["series"].replace('"api"', '"web"'), "values": s["values"]}
        for s in SERIES[:1]  # web never fails
    ] + [{"series": 'http_requests_total{service="web", code="500"}', "values": "0+0x70"}]
    difference = f"({trigger}) - on (service) {catalog.ERROR_RATIO}"
    zero = [{"labels": f'{{service="{n}"}}', "value": 0} for n in ("api", "web")]
    cases = [{"expr": difference, "eval_time": f"{m}m", "exp_samples": zero} for m in MINUTES]
    cases.append(
        {
            "expr": trigger,
            "eval_time": "35m",
            "exp_samples": [
                {"labels": '{service="api"}', "value": 0.1},
                {"labels": '{service="web"}', "value": 0},
            ],
        }
    )
    output = _run(
        tmp_path,
        cfg,
        [{"interval": "1m", "input_series": SERIES + web, "promql_expr_test": cases}],
    )
    assert "SUCCESS" in output, output


def test_alert_is_active_exactly_when_the_trigger_breaches(tmp_path: Path) -> None:
    cfg = _config()
    trigger = trigger_queries(cfg, cfg.services[0]).error_ratio
    assert trigger is not None
    breach = f"(({trigger}) > bool 0.05)"
    active = 'max by (service) (ALERTS{alertname="ServiceHighErrorRate"})'
    # Minute by minute, before, during and after the errors, the alert is pending or firing
    # exactly when the trigger's own query is above the same threshold. Rule groups are
    # evaluated independently (the alert reads the recording rule as of this evaluation or
    # the one before), so the minute right after each change is left out: the breach
    # starts at 24m and ends at 44m.
    disagreement = f"{breach} - on (service) ({active} or 0 * {breach})"
    zero = [{"labels": '{service="api"}', "value": 0}]
    one = [{"labels": '{service="api"}', "value": 1}]
    steady = [m for m in MINUTES if m not in (24, 25, 34, 35, 44, 45)]
    cases = [{"expr": disagreement, "eval_time": f"{m}m", "exp_samples": zero} for m in steady]
    cases += [
        {"expr": breach, "eval_time": "23m", "exp_samples": zero},
        {"expr": breach, "eval_time": "24m", "exp_samples": one},
        {"expr": breach, "eval_time": "43m", "exp_samples": one},
        {"expr": breach, "eval_time": "44m", "exp_samples": zero},
    ]
    # ...and both hold `for: 10m`: pending at 33m, firing from 36m until the errors stop.
    firing = 'count by (service) (ALERTS{alertname="ServiceHighErrorRate", alertstate="firing"})'
    cases += [{"expr": firing, "eval_time": f"{m}m", "exp_samples": []} for m in (23, 30, 33, 50)]
    cases += [{"expr": firing, "eval_time": f"{m}m", "exp_samples": one} for m in (36, 40, 43)]
    output = _run(
        tmp_path, cfg, [{"interval": "1m", "input_series": SERIES, "promql_expr_test": cases}]
    )
    assert "SUCCESS" in output, output
