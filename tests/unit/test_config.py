"""sre.yaml loading: every problem at once, with key paths and did-you-mean hints."""

from __future__ import annotations

import copy
import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from sre.config import ConfigError, load_config, parse_config
from sre.config.durations import Duration
from sre.docs import config_classes

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    data = yaml.safe_load((REPO / "sre.yaml").read_text())
    assert isinstance(data, dict)
    return data


def problems_of(data: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    return [str(p) for p in caught.value.problems]


def test_default_config_describes_the_platform() -> None:
    cfg = load_config(REPO / "sre.yaml")
    names = {s.name for s in cfg.services}
    assert {"api-service", "agent-orchestrator", "agent-worker", "web-frontend"} <= names
    assert {(d.name, d.kind) for d in cfg.datastores} == {
        ("postgres", "postgres"),
        ("redis", "redis"),
    }
    api = cfg.service("api-service")
    assert api.rollback is not None
    assert api.rollback.for_ == Duration.parse("2m")
    assert api.rollback.target.kind == "deployment"
    assert api.health is not None and api.health.interval.seconds == 15


@pytest.mark.parametrize(
    ("text", "ms", "canonical"),
    [
        ("30s", 30_000, "30s"),
        ("2m", 120_000, "2m"),
        ("26h", 93_600_000, "1d2h"),
        ("90m", 5_400_000, "1h30m"),
        ("1h30m", 5_400_000, "1h30m"),
        ("500ms", 500, "500ms"),
        ("3d", 259_200_000, "3d"),
    ],
)
def test_durations(text: str, ms: int, canonical: str) -> None:
    parsed = Duration.parse(text)
    assert parsed.milliseconds == ms
    assert str(parsed) == canonical
    assert Duration.parse(str(parsed)) == parsed


@pytest.mark.parametrize("bad", ["2x", "", "m", "1.5h", "-1m", "30 s"])
def test_bad_durations_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        Duration.parse(bad)


def test_error_budget_is_exact(raw: dict[str, Any]) -> None:
    cfg = parse_config(raw)
    assert cfg.service("api-service").slo is not None
    budget = cfg.service("api-service").slo.error_budget  # type: ignore[union-attr]
    assert budget == Decimal("0.001")
    assert str(budget) == "0.001"
    data = copy.deepcopy(raw)
    data["services"][0]["slo"]["availability"] = 99.95
    slo = parse_config(data).services[0].slo
    assert slo is not None and str(slo.error_budget) == "0.0005"


def test_every_problem_is_reported_together_with_key_paths(raw: dict[str, Any]) -> None:
    data = copy.deepcopy(raw)
    data["services"][2]["rollback"] = {"target": {"kind": "deployment"}, "for": "2x"}
    data["services"][1]["slo"]["availability"] = 100
    data["daemon"]["listn"] = "0.0.0.0:1"
    data["cost"]["schedule"] = "every day"
    data["backups"][0]["max_age"] = 26
    found = problems_of(data)
    assert found == [
        "services[1].slo.availability: must be a percentage below 100, e.g. 99.9",
        "services[2].rollback.target.name: missing required key for kind 'deployment'",
        "services[2].rollback.for: '2x' is not a duration (use e.g. 30s, 2m, 1h30m, 26h, 3d)",
        'daemon.listn: unknown key (did you mean "listen"?)',
        "cost.schedule: 'every day' is not a 5-field cron expression "
        "(minute hour day month weekday)",
        'backups[0].max_age: 26 is not a duration (did you mean "26s"?)',
    ]


def test_unknown_key_without_close_match_has_no_hint(raw: dict[str, Any]) -> None:
    data = copy.deepcopy(raw)
    data["zebra"] = 1
    assert problems_of(data) == ["zebra: unknown key"]


def test_missing_required_and_wrong_types(raw: dict[str, Any]) -> None:
    data = copy.deepcopy(raw)
    del data["system"]
    data["services"][0]["namespace"] = 7
    data["services"][0]["health"]["tls_verify"] = "yes"
    data["slack"]["routes"] = "#alerts"
    assert problems_of(data) == [
        "system: missing required key",
        "services[0].namespace: expected a string, got a number",
        "services[0].health.tls_verify: expected true or false, got 'yes'",
        "slack.routes: expected a list, got a string",
    ]


def test_prometheus_and_runbooks_are_optional_for_the_daemon_not_for_rollback(
    raw: dict[str, Any],
) -> None:
    data = copy.deepcopy(raw)
    del data["prometheus"], data["runbooks"]
    with_rollback = [i for i, s in enumerate(data["services"]) if "rollback" in s]
    assert with_rollback, "the example config should show a rollback block"
    assert problems_of(data) == [
        f"services[{i}].rollback: needs a prometheus section (its triggers query Prometheus)"
        for i in with_rollback
    ]
    for service in data["services"]:
        service.pop("rollback", None)
    cfg = parse_config(data)
    assert cfg.prometheus is None and cfg.for_rendering() == ["prometheus", "runbooks"]


def test_cross_field_rules(raw: dict[str, Any]) -> None:
    data = copy.deepcopy(raw)
    data["services"][1]["name"] = "api-service"
    data["backups"][1]["s3"] = {"bucket": "b"}
    data["probes"][0]["timeout"] = "1m"
    del data["aws"]
    found = problems_of(data)
    assert "services[1].name: 'api-service' is used twice" in found
    assert "backups[1]: needs exactly one of s3 or rds" in found
    assert "probes[0].timeout: 1m is longer than the interval 30s" in found
    assert "cost: needs an aws section (region, endpoint_url)" in found


def test_absent_sections_switch_features_off(raw: dict[str, Any]) -> None:
    minimal = {
        "system": "demo",
        "prometheus": {"url": "http://127.0.0.1:9090"},
        "runbooks": {"base_url": "https://example.com/runbooks/"},
        "services": [{"name": "api", "namespace": "default"}],
    }
    cfg = parse_config(minimal)
    assert cfg.slack is None and cfg.aws is None and cfg.cost is None
    assert cfg.alertmanager is None and cfg.grafana is None
    assert cfg.backups == () and cfg.probes == ()
    assert cfg.daemon.listen == "0.0.0.0:9877"


def test_secrets_are_named_not_embedded(raw: dict[str, Any]) -> None:
    data = copy.deepcopy(raw)
    data["slack"]["token_env"] = "xoxb-123-secret"
    found = problems_of(data)
    assert len(found) == 1
    assert found[0].startswith("slack.token_env: 'xoxb-123-secret' is not an environment variable")


def test_slack_routes_first_match_wins(raw: dict[str, Any]) -> None:
    cfg = parse_config(raw)
    assert cfg.slack is not None
    assert cfg.slack.channel_for({"severity": "critical"}) == "#alerts"
    assert cfg.slack.channel_for({"severity": "warning"}) == "#devops-alerts"


def test_all_probes_fill_service_and_name(raw: dict[str, Any]) -> None:
    cfg = parse_config(raw)
    probes = {(p.service, p.name): p for p in cfg.all_probes()}
    assert ("api-service", "health") in probes
    assert probes[("redis", "redis-tcp")].kind == "tcp"


def test_unreadable_and_invalid_yaml_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("system: [unclosed\n")
    with pytest.raises(ConfigError, match=r"line \d+, column \d+: not valid YAML"):
        load_config(broken)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just a string\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(scalar)


def test_cross_field_rules_are_reported_alongside_field_errors(raw: dict[str, Any]) -> None:
    data = copy.deepcopy(raw)
    data["services"][1]["name"] = "api-service"
    data["services"][2]["health"]["interval"] = "2x"
    del data["aws"]
    found = problems_of(data)
    assert "services[2].health.interval: '2x' is not a duration" in found[0]
    assert "services[1].name: 'api-service' is used twice" in found
    assert "cost: needs an aws section (region, endpoint_url)" in found


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (["probes", 0, "url"], "tcp://h:99999", "probes[0].url: 'tcp://h:99999' is not valid"),
        (["prometheus", "url"], "http://[::1/x", "prometheus.url: 'http://[::1/x' is not valid"),
        (["services", 0, "slo", "availability"], ".nan", "services[0].slo.availability: must"),
        (["services", 0, "slo", "availability"], "NaN", "services[0].slo.availability: must"),
    ],
)
def test_odd_values_are_problems_not_crashes(
    raw: dict[str, Any], path: list[str | int], value: str, expected: str
) -> None:
    data: Any = copy.deepcopy(raw)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = yaml.safe_load(value) if value == ".nan" else value
    (found,) = problems_of(data)
    assert found.startswith(expected)


def test_non_utf8_file_is_a_problem(tmp_path: Path) -> None:
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"system: \xff\xfe\n")
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 8\)"):
        load_config(binary)


def test_probe_keys_are_unique_across_health_and_probes(raw: dict[str, Any]) -> None:
    data = copy.deepcopy(raw)
    data["probes"].append({"name": "health", "service": "api-service", "url": "http://x/"})
    assert problems_of(data) == [
        "probes[2].name: service 'api-service' already has a probe named 'health'"
    ]


def test_datastores_of_one_kind_need_selectors(raw: dict[str, Any]) -> None:
    data = copy.deepcopy(raw)
    data["datastores"].append({"name": "pg-analytics", "kind": "postgres", "namespace": "a"})
    found = problems_of(data)
    assert found[0].startswith("datastores[0].selector: required when several datastores")
    assert found[1].startswith("datastores[2].selector: required when several datastores")
    data["datastores"][0]["selector"] = 'instance=~"pg-main.*"'
    data["datastores"][2]["selector"] = 'instance=~"pg-analytics.*"'
    parse_config(data)


def test_public_urls_are_checked_like_the_others() -> None:
    # A field named ``url`` once hid the check of the same name from the fields after it:
    # a public_url crashed the loader with a TypeError instead of being checked.
    base = {
        "system": "t",
        "prometheus": {"url": "http://p:9090"},
        "runbooks": {"base_url": "http://r/"},
        "services": [{"name": "a", "namespace": "n"}],
    }
    good = parse_config(
        {
            **base,
            "grafana": {"url": "http://g:3000", "public_url": "https://grafana.example.com"},
            "alertmanager": {"url": "http://am:9093", "public_url": "https://am.example.com"},
        }
    )
    assert good.grafana is not None and good.grafana.public_url == "https://grafana.example.com"
    with pytest.raises(ConfigError) as err:
        parse_config(
            {
                **base,
                "grafana": {"url": "http://g:3000", "public_url": "grafana"},
                "alertmanager": {"url": "http://am:9093", "public_url": "ftp://x"},
            }
        )
    assert [str(p) for p in err.value.problems] == [
        "alertmanager.public_url: 'ftp://x' is not an http(s) URL",
        "grafana.public_url: 'grafana' is not an http(s) URL",
    ]


def test_every_key_is_documented() -> None:
    # The config reference (docs/reference/config.md) is generated from these.
    undocumented = [
        f"{cls.__name__}.{f.name}"
        for cls in config_classes()
        for f in dataclasses.fields(cls)
        if not str(f.metadata.get("doc", "")).strip()
    ]
    assert undocumented == []
