"""The events the rollback feature publishes for the deploys feature: a deploy per new
revision (never the revision a rollback returned to), a verdict per change, every audit
record."""

from __future__ import annotations

import json
from pathlib import Path

from sre.features.rollback.feature import RollbackFeature
from tests.helpers.rollback import NOW, Harness, settle


def test_deploys_verdict_changes_and_rollbacks_become_events(tmp_path: Path) -> None:
    revision = tmp_path / "revision.json"
    back = json.dumps({"revision": "3", "previous": "2", "deployed_at": NOW})
    h = Harness(tmp_path, body=f"echo '{back}' > {revision}")

    async def body(f: RollbackFeature) -> None:
        await f.evaluate_all()  # revision 2, 20% errors: rolled back (the script -> 3)
        await settle(f)
        h.prom.error = 0.0
        for _ in range(2):  # revision 3 passes, twice: one verdict event
            h.clock.now += 15
            await f.evaluate_all()
        revision.write_text(json.dumps({"revision": "4", "previous": "3"}))
        h.clock.now += 15
        await f.evaluate_all()  # a new deploy, no deployed_at: the time it was seen

    h.go(body)
    seen = [
        (e["kind"], e["data"].get("revision"), e["data"].get("outcome") or e["data"].get("phase"))
        for e in h.published()
    ]
    assert seen == [
        ("deploy", "2", None),
        ("verdict", "2", "fail"),
        ("rollback", "2", "decision"),
        ("rollback", "2", "result"),
        ("verdict", "3", "pass"),  # 3 is where the rollback went: no deploy event
        ("deploy", "4", None),
        ("verdict", "4", "pass"),
    ]
    events = h.published()
    assert events[0]["data"] | {"target": None} == {
        "revision": "2",
        "previous": "1",
        "deployed_at": NOW - 60,
        "target": None,
    }
    assert events[5]["data"]["deployed_at"] == NOW + 45  # first seen then
    assert "error_rate fail: every sample above 0.05" in events[1]["data"]["line"]
    records = {r.id: r.data for r in h.store.audit_list("rollback")}
    for event in events[2:4]:
        assert records[event["data"]["audit_id"]]["phase"] == event["data"]["phase"]
        assert "verdicts" not in event["data"] and "error_rate fail" in event["data"]["summary"]
    assert events[3]["data"]["result"] == "success"
    assert events[3]["data"]["revision_after"] == "3"
