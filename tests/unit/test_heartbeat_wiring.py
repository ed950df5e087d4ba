"""The daemon builds the dead man's switch from ``alertmanager.heartbeat``; where the
rendered Alertmanager configuration sends Watchdog is where the daemon listens."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from prometheus_client import CollectorRegistry

from rules import all_groups
from sre.config import load_config, parse_config
from sre.daemon.app import Parts, build_features
from sre.features.heartbeat.feature import PATH, HeartbeatFeature
from sre.render import alertmanager
from sre.runtime.feature import Feature, FeatureError
from sre.runtime.jobs import JobRunner
from sre.runtime.metrics import CoreMetrics
from sre.runtime.notices import OutboxNotifier
from sre.runtime.store.sqlite import open_sqlite

ROOT = Path(__file__).resolve().parents[2]
ENV = {"SRE_WEBHOOK_TOKEN": "t0k", "PD_KEY": "p" * 32}


def test_watchdog_is_sent_where_the_daemon_listens() -> None:
    cfg = load_config(ROOT / "sre.yaml")
    alerts = {a.alert for g in all_groups(cfg) for a in g.alerts}
    data = alertmanager.config(cfg, alerts)
    first = data["route"]["routes"][0]
    assert first["matchers"] == ['alertname="Watchdog"']
    receiver = next(r for r in data["receivers"] if r["name"] == first["receiver"])
    url = receiver["webhook_configs"][0]["url"]
    assert url.endswith(PATH) and PATH == alertmanager.HEARTBEAT_PATH
    assert receiver["webhook_configs"][0]["http_config"]["authorization"]["credentials_file"]


def build(
    tmp: Path, env: dict[str, str], *, insecure_dev: bool = False, **hb: Any
) -> list[Feature]:
    data = yaml.safe_load((ROOT / "sre.yaml").read_text())
    data["daemon"] = {"state": f"sqlite:///{tmp}/state.db", **hb.pop("daemon", {})}
    data["alertmanager"]["heartbeat"].update(hb)
    cfg = parse_config(data)
    store = open_sqlite(tmp / "state.db")
    registry = CollectorRegistry()
    clock = lambda: 1000.0  # noqa: E731

    async def go() -> list[Feature]:
        async with aiohttp.ClientSession() as session:
            parts = Parts(
                config=cfg,
                store=store,
                registry=registry,
                clock=clock,
                session=session,
                runner=JobRunner(CoreMetrics(CollectorRegistry(), "t", "s"), clock),
                notices=OutboxNotifier(store),
                env=env,
                insecure_dev=insecure_dev,
                started_at=500.0,
            )
            return build_features(parts)

    try:
        return asyncio.run(go())
    finally:
        store.close()


def test_the_default_config_builds_the_switch(tmp_path: Path) -> None:
    found = [f for f in build(tmp_path, ENV) if isinstance(f, HeartbeatFeature)]
    assert len(found) == 1
    feature = found[0]
    assert feature.pager is None  # sre.yaml pages through Alertmanager, not the daemon
    assert feature.watched_since == 500.0  # the process start, kept across reloads
    assert [j.id for j in feature.jobs()] == ["heartbeat.check"]
    assert [(r.method, r.path) for r in feature.routes()] == [("POST", PATH)]


def test_a_routing_key_variable_turns_pagerduty_on(tmp_path: Path) -> None:
    features = build(tmp_path, ENV, pagerduty_routing_key_env="PD_KEY")
    feature = next(f for f in features if isinstance(f, HeartbeatFeature))
    assert feature.pager is not None
    assert "p" * 32 not in repr(feature.pager.client)


@pytest.mark.parametrize(
    ("env", "hb", "message"),
    [
        ({"SRE_WEBHOOK_TOKEN": "t"}, {"pagerduty_routing_key_env": "PD_KEY"}, "PD_KEY"),
        ({}, {}, "SRE_WEBHOOK_TOKEN"),
        (ENV, {"daemon": {"webhook_token_env": None}}, "daemon.webhook_token_env is null"),
    ],
)
def test_what_it_cannot_run_without_stops_the_start(
    tmp_path: Path, env: dict[str, str], hb: dict[str, Any], message: str
) -> None:
    with pytest.raises(FeatureError, match=message):
        build(tmp_path, env, **hb)


def test_insecure_dev_runs_without_the_secrets(tmp_path: Path) -> None:
    features = build(tmp_path, {}, insecure_dev=True, pagerduty_routing_key_env="PD_KEY")
    feature = next(f for f in features if isinstance(f, HeartbeatFeature))
    assert feature.pager is None and not feature.token.required


def test_the_feature_itself_refuses_an_unset_token(tmp_path: Path) -> None:
    cfg = parse_config(
        {**yaml.safe_load((ROOT / "sre.yaml").read_text()),
         "daemon": {"state": f"sqlite:///{tmp_path}/state.db"}}
    )  # fmt: skip
    assert cfg.alertmanager is not None and cfg.alertmanager.heartbeat is not None
    store = open_sqlite(tmp_path / "state.db")
    try:
        with pytest.raises(FeatureError, match="heartbeat: the webhook token variable"):
            HeartbeatFeature(
                cfg.alertmanager.heartbeat,
                cfg.daemon,
                pagerduty=None,
                store=store,
                notices=OutboxNotifier(store),
                registry=CollectorRegistry(),
                clock=lambda: 0.0,
                env={},
                system="s",
                environment="e",
            )
    finally:
        store.close()
