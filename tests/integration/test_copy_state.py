"""``python -m sre.daemon copy-state``: a single daemon's SQLite state moved into PostgreSQL
(Debian's server on a loopback port), as docs/ha.md tells users to do."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sre.config import parse_config
from sre.features.alerts.model import parse_notification
from sre.features.alerts.state import AlertState
from sre.features.rollback.state import RollbackState
from sre.runtime.store.postgres import open_postgres
from sre.runtime.store.sqlite import open_sqlite
from tests.helpers.alertmanager import alert_json, webhook
from tests.helpers.daemon import ROOT, base_config
from tests.helpers.postgres import PostgresCluster

pytestmark = pytest.mark.integration


def copy_state(config: Path, source: str) -> subprocess.CompletedProcess[str]:
    argv = ["copy-state", "--config", str(config), "--from", source]
    return subprocess.run(
        [sys.executable, "-m", "sre.daemon", *argv],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=dict(os.environ), check=False,
    )  # fmt: skip


def test_everything_moves_and_ids_continue(pg_cluster: PostgresCluster, tmp_path: Path) -> None:
    old = tmp_path / "state.db"
    store = open_sqlite(old)
    alerts, rollback = AlertState(store), RollbackState(store)
    note = parse_notification(json.dumps(webhook([alert_json(fingerprint="f1")])).encode())
    item = asyncio.run(alerts.receive(note, 1000.0))
    asyncio.run(rollback.claim_rollback("api", "rev7", 1000.0, "frozen"))
    store.audit_add("rollback", "api", {"decision": "rollback"})
    store.close()

    url = pg_cluster.create_database("copy")
    config = tmp_path / "sre.yaml"
    config.write_text(yaml.safe_dump(base_config(tmp_path, daemon={"state": url})))
    parse_config(yaml.safe_load(config.read_text()))  # the file is what a user would write
    done = copy_state(config, f"sqlite:///{old}")
    assert done.returncode == 0, done.stderr
    assert "outbox: 1 row(s)" in done.stdout and "idempotency: 2 row(s)" in done.stdout

    new = open_postgres(url)
    try:
        (pending,) = new.outbox_pending(["alerts"])
        assert pending.id == item and pending.payload["group_key"] == note.group_key
        assert new.claimed("rollback", "api@rev7")  # no second rollback from rev7
        assert new.audit_list("rollback")[0].data == {"decision": "rollback"}
        again = AlertState(new)
        assert asyncio.run(again.receive(note, 1001.0)) is None  # a duplicate still
        later = new.outbox_add("alerts", {"n": 1})
        assert later is not None and later > item  # the sequence moved past the copy
    finally:
        new.close()

    # A second copy finds the database in use and writes nothing.
    refused = copy_state(config, f"sqlite:///{old}")
    assert refused.returncode == 1 and "already holds state" in refused.stderr


def test_bad_uses_are_clear_errors(tmp_path: Path) -> None:
    config = tmp_path / "sre.yaml"
    config.write_text(yaml.safe_dump(base_config(tmp_path)))  # SQLite: nowhere to copy to
    done = copy_state(config, "sqlite:///nowhere.db")
    assert done.returncode == 2 and "PostgreSQL" in done.stderr
    assert "Traceback" not in done.stderr
