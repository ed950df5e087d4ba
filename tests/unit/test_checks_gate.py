"""The deploy gate's decisions (``sre.checks.gate``) and the CLI's plan (when it evaluates,
what it refuses)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sre.checks import gate
from sre.checks.rollback import TriggerVerdict, no_verdict
from sre.config import parse_config
from sre.config.durations import Duration
from sre.daemon.__main__ import main as daemon_main
from sre.daemon.verify_cli import Plan, plan

ERR_PASS = TriggerVerdict(
    "error_rate", "pass", "within threshold", threshold=0.05, values=(0.01, 0.02)
)
ERR_FAIL = TriggerVerdict(
    "error_rate", "fail", "every sample above 0.05", threshold=0.05, values=(0.19, 0.21)
)
HEALTH_PASS = TriggerVerdict(
    "health", "pass", "0 consecutive failed probes", threshold=3.0, values=(0.0,)
)


def test_a_failed_trigger_fails_at_once_with_its_numbers_on_one_line() -> None:
    result = gate.evaluation("api", [ERR_FAIL, HEALTH_PASS], elapsed=7.2)
    assert result == gate.GateResult(
        gate.FAIL,
        "FAIL api after 7s: error_rate fail: every sample above 0.05 (min 0.19, max 0.21, "
        "threshold 0.05); health pass: 0 consecutive failed probes",
    )
    assert gate.evaluation("api", [ERR_PASS, no_verdict("latency", "no_data")], elapsed=7) is None


def test_the_end_of_the_window_passes_only_when_every_trigger_passed() -> None:
    result = gate.final("api", [ERR_PASS, HEALTH_PASS], window=60, evaluations=5, passed=4)
    assert result.code == gate.PASS
    assert result.line.startswith("PASS api over 60s (4/5 evaluations passed): error_rate pass")
    unclear = gate.final(
        "api",
        [ERR_PASS, no_verdict("latency", "low_traffic"), no_verdict("error_rate", "low_traffic")],
        window=60,
        evaluations=5,
        passed=0,
        sources={"low_traffic": ", below 0.1 requests/s"},
    )
    assert unclear == gate.GateResult(
        gate.NO_VERDICT,
        "NO VERDICT api after 60s (0/5 evaluations passed): no traffic, below 0.1 "
        "requests/s (latency, error_rate)",
    )
    down = gate.final(
        "api",
        [no_verdict("error_rate", "prometheus_unreachable")],
        window=60,
        evaluations=1,
        passed=0,
        sources={"prometheus_unreachable": " at http://p:9090"},
    )
    assert down.code == gate.NO_VERDICT
    assert down.line.endswith("Prometheus unreachable at http://p:9090 (error_rate)")
    assert gate.final("api", [ERR_FAIL], window=60, evaluations=1, passed=0).code == gate.FAIL
    assert gate.final("api", [], window=60, evaluations=1, passed=0).code == gate.NO_VERDICT


def test_overall_ranks_fail_then_no_verdict_then_pass() -> None:
    assert gate.overall([ERR_PASS, ERR_FAIL]) == ("fail", "error_rate")
    assert gate.overall([ERR_PASS, no_verdict("latency", "nan")]) == ("no_verdict", "nan")
    assert gate.overall([ERR_PASS]) == ("pass", "ok")
    assert gate.overall([]) == ("no_verdict", "no_data")


def cfg(**rollback: Any) -> Any:
    return parse_config(
        {
            "system": "t",
            "prometheus": {"url": "http://127.0.0.1:9"},
            "services": [
                {
                    "name": "api",
                    "namespace": "ns",
                    "rollback": {"target": {"kind": "command", "argv": ["x"]}, **rollback},
                },
                {"name": "web", "namespace": "ns"},
            ],
            "daemon": {"rollbacks": {"rate_window": "1m", "step": "15s", "interval": "15s"}},
        }
    )


def test_the_plan_waits_for_one_trigger_window_and_defaults_to_after_deploy() -> None:
    found = plan(cfg(**{"for": "2m", "after_deploy": "20m"}), "api", None)
    assert isinstance(found, Plan)
    assert (found.first, found.window, found.interval) == (180.0, 1200.0, 15.0)
    found = plan(cfg(**{"for": "100s"}), "api", Duration.parse("5m"))
    assert isinstance(found, Plan)
    assert found.first == 165.0  # 100 s + 60 s, rounded up to whole 15 s steps
    assert isinstance(plan(cfg(), "api", None), Plan) and plan(cfg(), "api", None).window == 600  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("name", "window", "rollback", "problem"),
    [
        ("nope", None, {}, "no service 'nope' in the config; services with triggers: api"),
        ("web", None, {}, "service 'web' has no rollback block"),
        ("api", "2m", {}, "--for 2m is shorter than one trigger window"),
        (
            "api",
            None,
            {"error_rate_above": None, "health_failures": None},
            "services[api].rollback has no trigger to watch",
        ),
    ],
)
def test_the_plan_refuses_what_cannot_give_a_verdict(
    name: str, window: str | None, rollback: dict[str, Any], problem: str
) -> None:
    found = plan(cfg(**rollback), name, Duration.parse(window) if window else None)
    assert isinstance(found, str) and found.startswith(problem), found


def test_the_command_line_exits_2_on_usage_and_config_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = {
        "system": "t",
        "prometheus": {"url": "http://127.0.0.1:9"},
        "services": [
            {
                "name": "api",
                "namespace": "ns",
                "rollback": {"target": {"kind": "helm", "release": "r"}},
            },
            {"name": "plain", "namespace": "ns"},
        ],
    }
    path = tmp_path / "sre.yaml"
    path.write_text(yaml.safe_dump(data))
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**data, "services": [{"name": "x"}]}))

    def run(*args: str) -> tuple[int, str]:
        try:
            code = daemon_main(["verify", *args])
        except SystemExit as exit_:  # argparse
            code = int(exit_.code or 0)
        return code, capsys.readouterr().err

    code, err = run("--config", str(path), "--service", "nope")
    assert code == 2 and "no service 'nope' in the config; services with triggers: api" in err
    code, err = run("--config", str(path), "--service", "plain")
    assert code == 2 and "has no rollback block" in err
    code, err = run("--config", str(path), "--service", "api", "--for", "1m")
    assert code == 2 and "--for 1m is shorter than one trigger window" in err
    code, err = run("--config", str(path), "--service", "api", "--for", "ten")
    assert code == 2 and "'ten' is not a duration" in err
    code, err = run("--config", str(path))
    assert code == 2 and "--service" in err
    code, err = run("--config", str(bad), "--service", "x")
    assert code == 2 and "services[0].namespace" in err
    code, err = run("--config", str(tmp_path / "missing.yaml"), "--service", "x")
    assert code == 2 and "missing.yaml" in err
