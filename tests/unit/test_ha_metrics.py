"""Metrics of leader-only work are exported by the leader only: a replica that lost the
lease must not keep exporting a frozen cost or backup gauge."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from sre.runtime.ha.metrics import LeaderOnly
from sre.runtime.metrics import catalog_metric


def test_leader_only_metrics_vanish_while_another_replica_leads() -> None:
    registry = CollectorRegistry()
    term: list[object | None] = [object()]
    leader_only = LeaderOnly(lambda: term[0])
    registry.register(leader_only)
    age = catalog_metric(leader_only.registry, "sre_backup_age_seconds")
    age.labels(backup="db").set(90_000)
    catalog_metric(registry, "sre_ha_replicas").set(2)

    assert b'sre_backup_age_seconds{backup="db"} 90000.0' in generate_latest(registry)
    term[0] = None  # the lease went to another replica
    exported = generate_latest(registry)
    assert b"sre_backup_age_seconds" not in exported
    assert b"sre_ha_replicas 2.0" in exported  # every replica's own metrics stay
    term[0] = object()
    assert registry.get_sample_value("sre_backup_age_seconds", {"backup": "db"}) == 90_000
