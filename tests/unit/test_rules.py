"""The rules as data: shape of every alert, runbooks, names, thresholds from config."""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
from pathlib import Path

import pytest

from rules import all_groups
from sre import catalog
from sre.config import SLO, Config, load_config
from sre.config.durations import Duration
from sre.model import Alert, Record
from sre.render.rulefiles import rule_files

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "runbooks"
PREFIXES = ("Service", "Probe", "Node", "Pod", "Container", "Agent", "Queue", "Postgres")
PREFIXES += ("Redis", "Security", "SLO", "SRE", "Prometheus")
# The dead man's switch keeps the name every Prometheus setup gives it (kube-prometheus-stack
# ships one too): Alertmanager routes alertname="Watchdog" to the daemon's heartbeat.
PREFIXES += ("Watchdog",)
SECTIONS = ("## Meaning", "## Impact", "## Diagnosis", "## Mitigation")
RECORD_NAME = re.compile(r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z0-9_]+$")
USED_RECORD = re.compile(r"\b[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z0-9_]+\b")


@pytest.fixture(scope="module")
def cfg() -> Config:
    return load_config(ROOT / "sre.yaml")


def alerts(cfg: Config) -> list[Alert]:
    return [a for g in all_groups(cfg) for a in g.alerts]


def records(cfg: Config) -> list[Record]:
    return [r for g in all_groups(cfg) for r in g.records]


def named(cfg: Config, name: str) -> list[Alert]:
    found = [a for a in alerts(cfg) if a.alert == name]
    assert found, f"no alert {name}"
    return found


def with_thresholds(cfg: Config, **changes: object) -> Config:
    return dataclasses.replace(cfg, thresholds=dataclasses.replace(cfg.thresholds, **changes))


# --------------------------------------------------------------------------- shape


def test_every_alert_has_the_house_shape(cfg: Config) -> None:
    assert len({a.alert for a in alerts(cfg)}) >= 35
    for alert in alerts(cfg):
        d = alert.to_dict()
        assert d["labels"]["severity"] in ("critical", "warning", "info"), alert.alert
        assert d["labels"]["environment"] == "production", alert.alert
        notes = d["annotations"]
        assert notes["summary"] and "{{" not in notes["summary"], alert.alert
        assert "{{" in notes["description"], f"{alert.alert}: description is not templated"
        assert notes["runbook_url"] == f"{cfg.runbooks.base_url}{alert.alert}.md"


def test_dashboard_urls_point_at_known_dashboards(cfg: Config) -> None:
    assert cfg.grafana is not None
    uids = {catalog.dashboard_uid(cfg.system, s) for s in catalog.DASHBOARD_SLUGS}
    linked = 0
    for alert in alerts(cfg):
        if alert.dashboard_url is None:
            continue
        linked += 1
        root, _, uid = alert.dashboard_url.rpartition("/d/")
        assert root == cfg.grafana.url and uid in uids, alert.dashboard_url
    assert linked >= len(alerts(cfg)) - 3


def test_dashboard_url_prefers_public_url_and_vanishes_without_grafana(cfg: Config) -> None:
    assert cfg.grafana is not None
    public = dataclasses.replace(
        cfg, grafana=dataclasses.replace(cfg.grafana, public_url="https://grafana.example.com")
    )
    url = named(public, "ServiceDown")[0].dashboard_url
    assert url == "https://grafana.example.com/d/parallel-ai-overview"
    none = dataclasses.replace(cfg, grafana=None)
    assert all(a.dashboard_url is None for a in alerts(none))
    assert all("dashboard_url" not in a.to_dict()["annotations"] for a in alerts(none))


def test_environment_label_follows_config(cfg: Config) -> None:
    staging = dataclasses.replace(cfg, environment="staging")
    assert {a.labels["environment"] for a in alerts(staging)} == {"staging"}


def test_no_two_rules_share_name_and_labels(cfg: Config) -> None:
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for alert in alerts(cfg):
        key = (alert.alert, tuple(sorted(alert.to_dict()["labels"].items())))
        assert key not in seen, f"duplicate rule {key} (promtool's lint rejects it)"
        seen.add(key)


# --------------------------------------------------------------------------- names


def test_alert_names_are_camel_case_with_a_domain_prefix(cfg: Config) -> None:
    for name in {a.alert for a in alerts(cfg)}:
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", name), name
        assert name.startswith(PREFIXES), name


def test_recording_rule_names_are_level_metric_operations(cfg: Config) -> None:
    for record in records(cfg):
        assert RECORD_NAME.fullmatch(record.record), record.record


def test_every_catalog_recording_rule_is_defined(cfg: Config) -> None:
    defined = {r.record for r in records(cfg)}
    wanted = {
        catalog.REQUEST_RATE,
        catalog.ERROR_RATIO,
        catalog.AUTH_FAILURE_RATIO,
        catalog.CODE_RATE,
        catalog.AGENT_PROCESSED_RATE,
        catalog.AGENT_FAILURE_RATIO,
        catalog.AGENT_P95,
        catalog.SLO_ERROR_BUDGET,
        *catalog.LATENCY_QUANTILES.values(),
        *(catalog.slo_error_ratio(w) for w in catalog.SLO_WINDOWS),
    }
    assert wanted - defined == set()


def test_alerts_use_only_defined_recording_rules(cfg: Config) -> None:
    defined = {r.record for r in records(cfg)}
    for alert in alerts(cfg):
        used = set(USED_RECORD.findall(alert.expr))
        assert used <= defined, f"{alert.alert} uses undefined {used - defined}"


# --------------------------------------------------------------------------- runbooks


def test_every_alert_has_a_complete_runbook(cfg: Config) -> None:
    for name in sorted({a.alert for a in alerts(cfg)}):
        path = RUNBOOKS / f"{name}.md"
        assert path.is_file(), f"missing runbook {path}"
        text = path.read_text(encoding="utf-8")
        assert text.startswith(f"# {name}\n"), path
        positions = [text.find(s) for s in SECTIONS]
        assert -1 not in positions and positions == sorted(positions), f"{path}: sections"
        assert "```" in text, f"{path}: no concrete commands"
        assert not re.search(r"\b(TODO|TBD|FIXME|XXX)\b|lorem ipsum", text, re.I), path


def test_no_runbook_without_an_alert(cfg: Config) -> None:
    names = {a.alert for a in alerts(cfg)}
    orphans = sorted(p.stem for p in RUNBOOKS.glob("*.md") if p.stem not in names)
    assert orphans == []


# --------------------------------------------------------------------------- SLO


def _record(cfg: Config, name: str) -> str:
    (expr,) = [r.expr for r in records(cfg) if r.record == name]
    return expr


def test_slo_budget_is_exact_decimal_text(cfg: Config) -> None:
    text = rule_files(all_groups(cfg))["thresholds.yaml"]
    budget = _record(cfg, catalog.SLO_ERROR_BUDGET)
    assert '0.001 * service:sre_service:info{service="api-service"}' in budget  # 99.9
    assert "0.005 * service:sre_service:info{" in budget  # 99.5
    assert '0.01 * service:sre_service:info{service="agent-worker"}' in budget  # 99.0
    assert "0.000999" not in text and "0.00999" not in text


@pytest.mark.parametrize(
    ("availability", "budget"),
    [("99.9", "0.001"), ("99.95", "0.0005"), ("99.99", "0.0001"), ("95", "0.05")],
)
def test_slo_budget_for_other_targets(cfg: Config, availability: str, budget: str) -> None:
    api = cfg.services[0]
    changed = dataclasses.replace(
        cfg, services=(dataclasses.replace(api, slo=SLO(Decimal(availability))),)
    )
    assert _record(changed, catalog.SLO_ERROR_BUDGET) == f"{budget} * {catalog.SERVICE_INFO}"


def test_one_rule_covers_every_service(cfg: Config) -> None:
    # No rule names a service: each joins the per-service series of rules/thresholds.py.
    for group in all_groups(cfg):
        if group.file == "thresholds":
            continue
        for rule in group.rules:
            for service in cfg.services:
                assert service.name not in rule.expr, f"{rule.name} names {service.name}"
    assert len(named(cfg, "ServiceHighErrorRate")) == 1
    assert len(named(cfg, "ServiceHighLatency")) == 1


def test_burn_rate_alerts_follow_the_workbook_table(cfg: Config) -> None:
    for row in catalog.BURN_RATE_ALERTS:
        (alert,) = named(cfg, f"SLOErrorBudgetBurn{row.long_window}{row.short_window}")
        assert alert.severity == row.severity
        assert alert.for_ == Duration.parse(row.for_)
        factor = format(row.factor.normalize(), "f")
        for window in (row.long_window, row.short_window):
            assert (
                f"{catalog.slo_error_ratio(window)}\n  > on (service)\n"
                f"({factor} * {catalog.SLO_ERROR_BUDGET})"
            ) in alert.expr


def test_no_slo_no_slo_rules(cfg: Config) -> None:
    bare = dataclasses.replace(
        cfg, services=tuple(dataclasses.replace(s, slo=None) for s in cfg.services)
    )
    assert all(g.file != "slo" for g in all_groups(bare))


# --------------------------------------------------------------------------- thresholds


def test_node_thresholds_follow_config(cfg: Config) -> None:
    assert named(cfg, "NodeHighCPU")[0].expr.endswith("> 0.9")
    changed = with_thresholds(
        cfg, cpu_ratio_above=0.75, memory_ratio_above=0.8, disk_ratio_above=0.7
    )
    assert named(changed, "NodeHighCPU")[0].expr.endswith("> 0.75")
    assert named(changed, "NodeHighMemory")[0].expr.endswith("> 0.8")
    assert named(changed, "NodeDiskAlmostFull")[0].expr.endswith("> 0.7")
    filling = with_thresholds(cfg, disk_fill_within=Duration.parse("12h"))
    assert ", 43200) < 0" in named(filling, "NodeDiskFillingUp")[0].expr


def test_error_rate_threshold_comes_from_rollback_else_defaults(cfg: Config) -> None:
    (alert,) = named(cfg, "ServiceHighErrorRate")
    assert alert.for_ == Duration.parse("2m") and alert.labels["for"] == "2m"
    # Every service on the defaults (no rollback: 0.05, 2m, 0.1 req/s): one class, no names.
    assert _record(cfg, catalog.ERROR_RATIO_THRESHOLD) == f"0.05 * {catalog.SERVICE_INFO}"
    api = cfg.service("api-service")
    assert api.rollback is not None
    strict = dataclasses.replace(
        api,
        rollback=dataclasses.replace(
            api.rollback, error_rate_above=0.02, for_=Duration.parse("5m"), min_request_rate=3.0
        ),
    )
    changed = dataclasses.replace(cfg, services=(strict, *cfg.services[1:]))
    info = catalog.SERVICE_INFO
    only, others = '{service="api-service"}', '{service!="api-service"}'
    assert _record(changed, catalog.ERROR_RATIO_THRESHOLD) == (
        f"(0.05 * {info}{others}\nor 0.02 * {info}{only})"
    )
    assert _record(changed, catalog.MIN_REQUEST_RATE_THRESHOLD) == (
        f"(0.1 * {info}{others}\nor 3 * {info}{only})"
    )
    assert _record(changed, catalog.ERROR_RATIO_FOR) == (
        f"(120 * {info}{others}\nor 300 * {info}{only})"
    )
    # One rule per distinct `for`, told apart by a `for` label.
    by_for = {a.labels["for"]: a for a in named(changed, "ServiceHighErrorRate")}
    assert set(by_for) == {"2m", "5m"}
    assert by_for["5m"].for_ == Duration.parse("5m")
    assert by_for["5m"].expr.endswith(f"{catalog.ERROR_RATIO_FOR} == 300")


def test_latency_sla_comes_from_rollback_else_slo(cfg: Config) -> None:
    sla = _record(cfg, catalog.LATENCY_THRESHOLD)
    assert f'1 * {catalog.SERVICE_INFO}{{service="api-service"}}' in sla  # rollback 1.0, not 0.5
    assert f'0.8 * {catalog.SERVICE_INFO}{{service="web-frontend"}}' in sla  # SLO latency
    assert "agent-worker" not in sla  # neither
    assert _record(cfg, catalog.LATENCY_FOR) == (
        f'120 * {catalog.SERVICE_INFO}{{service!="agent-worker"}}'
    )


def test_queue_thresholds_follow_config(cfg: Config) -> None:
    exprs = [a.expr for a in named(cfg, "QueueBacklogHigh")]
    assert any('queue="agent-tasks"} > 1000' in e for e in exprs)
    assert any('queue="agent-results"} > 5000' in e for e in exprs)
    ages = [a.expr for a in named(cfg, "QueueOldestTaskTooOld")]
    assert any('queue="agent-tasks"} > 600' in e for e in ages)
    changed = dataclasses.replace(
        cfg, queues=(dataclasses.replace(cfg.queues[0], oldest_age_above=Duration.parse("90s")),)
    )
    (age,) = named(changed, "QueueOldestTaskTooOld")
    assert age.expr.endswith("> 90")


def test_security_thresholds_follow_config(cfg: Config) -> None:
    changed = with_thresholds(
        cfg,
        auth_failure_ratio_above=0.3,
        auth_failure_min_rate=5.0,
        traffic_anomaly_ratio=4.5,
        traffic_anomaly_min_rate=2.0,
        single_source_share_above=0.6,
    )
    auth = named(changed, "SecurityAuthFailureSpike")[0].expr
    assert "ratio_rate5m > 0.3\n" in auth and auth.endswith("> 5")
    anomaly = named(changed, "SecurityTrafficAnomaly")[0].expr
    assert "> 4.5\n    * clamp_min(service:http_requests:rate5m offset 1w, 2)" in anomaly
    assert anomaly.endswith("> 2")
    single = named(changed, "SecuritySingleSourceDominant")[0].expr
    assert ") > 0.6\n" in single and single.endswith("> 2")


def test_datastore_thresholds_follow_config(cfg: Config) -> None:
    changed = with_thresholds(
        cfg,
        postgres_connections_ratio_above=0.7,
        postgres_replication_lag_above=Duration.parse("2m"),
        redis_memory_ratio_above=0.75,
    )
    assert named(changed, "PostgresConnectionsNearMax")[0].expr.endswith("> 0.7")
    assert named(changed, "PostgresReplicationLagHigh")[0].expr.endswith("> 120")
    assert named(changed, "RedisMemoryHigh")[0].expr.endswith("> 0.75")


def test_backup_max_age_follows_config(cfg: Config) -> None:
    exprs = {a.labels["backup"]: a.expr for a in named(cfg, "SREBackupStale")}
    assert set(exprs) == {b.name for b in cfg.backups}
    assert "> 93600" in exprs["postgres-nightly"]  # 26h


def test_cost_alerts_need_a_cost_section(cfg: Config) -> None:
    names = {a.alert for a in alerts(dataclasses.replace(cfg, cost=None))}
    assert not any(n.startswith("SRECost") for n in names)


def test_selectors_come_from_config(cfg: Config) -> None:
    odd = dataclasses.replace(
        cfg,
        selectors=dataclasses.replace(
            cfg.selectors,
            applications='cluster="a1"',
            node='job="n1"',
            kube_state_metrics='job="k1"',
            postgres='job="p1"',
            redis='job="r1"',
            agents='cluster="g1"',
            daemon='job="d1"',
        ),
    )
    text = "".join(rule_files(all_groups(odd)).values())
    for default in (
        '{namespace="parallel-ai-system"',
        'job="node-exporter"',
        'job="kube-state-metrics"',
        'job="postgres-exporter"',
        'job="redis-exporter"',
        'job="sre-daemon"',
    ):
        assert default not in text, default
    for chosen in ('cluster="a1"', 'job="n1"', 'job="k1"', 'job="p1"', 'job="r1"', 'job="d1"'):
        assert chosen in text, chosen


# --------------------------------------------------------------------------- determinism


def test_rendering_is_deterministic(cfg: Config) -> None:
    first = rule_files(all_groups(cfg))
    second = rule_files(all_groups(load_config(ROOT / "sre.yaml")))
    assert first == second
    assert [g.name for g in all_groups(cfg)] == [g.name for g in all_groups(cfg)]
    assert all(text.endswith("\n") for text in first.values())
