"""The dead man's switch on two real replicas sharing PostgreSQL: the heartbeat reaches
whichever replica the Service picks, every replica exports the shared status, and the
outage is told to Slack and PagerDuty once, by the leader, and resolved once."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from sre.devtools.fake_pagerduty import FakePagerDuty
from sre.devtools.fake_slack import FakeSlack
from tests.helpers.alertmanager import alert_json, webhook
from tests.helpers.ha import (
    Replica,
    replica_config,
    start_replicas,
    stop_all,
    the_leader,
    wait_until,
)
from tests.helpers.postgres import PostgresCluster

pytestmark = pytest.mark.integration
TOKEN, PD_KEY = "itest-heartbeat-token", "p" * 32


def beat(replica: Replica) -> int:
    body = webhook([alert_json("Watchdog", severity="info")], group_key='{}:{alertname="Watchdog"}')
    request = urllib.request.Request(
        replica.url("/alertmanager/heartbeat"),
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as resp:
        return int(resp.status)


def test_the_leader_alone_declares_and_pages_once_and_every_replica_exports_it(
    pg_cluster: PostgresCluster, tmp_path: Path
) -> None:
    state = pg_cluster.create_database("ha_heartbeat")
    with FakeSlack() as slack, FakePagerDuty(routing_keys=(PD_KEY,)) as pd:
        alertmanager = {
            "url": "http://127.0.0.1:9",
            "receivers": [{"name": "sre", "sre_daemon": {"url": "http://127.0.0.1:9877"}}],
            "route": {"receiver": "sre"},
            "heartbeat": {
                "receiver": "sre",
                "interval": "1s",
                "max_silence": "3s",
                "pagerduty_routing_key_env": "PD_ROUTING_KEY",
                "pagerduty_url": pd.url,
            },
        }
        configs = [
            replica_config(
                tmp_path,
                state,
                slack.base_url,
                alertmanager=alertmanager,
                daemon={"webhook_token_env": "SRE_WEBHOOK_TOKEN"},
            )
            for _ in range(2)
        ]
        env = {"SRE_WEBHOOK_TOKEN": TOKEN, "PD_ROUTING_KEY": PD_KEY}
        replicas = start_replicas(tmp_path, configs, slack.token, env=env)
        try:
            leader = the_leader(replicas)
            follower = next(r for r in replicas if r is not leader)
            assert beat(follower) == 200  # the Service sent it to the follower
            # Silence: declared once, by the leader, whatever the follower sees.
            pd.wait_for(lambda p: [e.action for e in p.accepted()] == ["trigger"], timeout=20)
            wait_until(
                lambda: all(r.sample("sre_heartbeat_missing") == 1 for r in replicas),
                10,
                "every replica exports the outage",
            )
            assert beat(follower) == 200  # back
            pd.wait_for(
                lambda p: [e.action for e in p.accepted()] == ["trigger", "resolve"], timeout=20
            )
            wait_until(
                lambda: all(r.sample("sre_heartbeat_missing") == 0 for r in replicas),
                10,
                "every replica exports the end of it",
            )
            wait_until(lambda: len(slack.top_level()) >= 2, 20, "silent, then back, in Slack")
            texts = [m.text for m in slack.top_level()]
            assert sum("silent" in t for t in texts) == 1, texts
            assert sum("back" in t for t in texts) == 1, texts
            assert len(pd.accepted()) == 2  # nothing sent twice by the other replica
            assert sum(r.sample("sre_pagerduty_events_total") for r in replicas) == 2
        finally:
            stop_all(replicas)
