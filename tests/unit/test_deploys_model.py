"""What the deploys feature does with each event and at the end of a watch window (pure)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sre.features.deploys import messages
from sre.features.deploys.model import Settings, Thread, react, settle
from sre.runtime.events import Event, silence

NOW = 1_800_000_000.0
ON = Settings(threads=True, annotations=True, watch={"api": 600.0})


def deploy(revision: str = "5", deployed_at: float = NOW - 10, previous: str = "4") -> Event:
    data = {"revision": revision, "previous": previous, "deployed_at": deployed_at}
    return Event("deploy", f"deploy:api:{revision}", "api", NOW, data)


def rollback(**data: Any) -> Event:
    base = {"service": "api", "revision": "5", "previous": "4", "trigger": "error_rate"}
    return Event("rollback", f"rollback:{len(data)}", "api", NOW, {**base, **data})


def opened(**kw: Any) -> Thread:
    return Thread("api", "5", "4", NOW - 10, NOW + 590, **kw)


def test_a_deploy_opens_one_thread_and_marks_the_dashboards() -> None:
    out = react(deploy(), None, [], ON, NOW)
    assert out.threads == [opened(detail="watching its rollback triggers for 600s")]
    assert out.slack == [{"op": "post", "service": "api", "revision": "5"}]
    assert out.annotations == [
        {
            "time": round((NOW - 10) * 1000),
            "tags": ["deploy", "api"],
            "text": "api revision 5 deployed (previous 4)",
        }
    ]
    # The same revision again (a replayed event): no second thread.
    assert react(deploy(), opened(), [], ON, NOW).slack == []


def test_a_deploy_seen_after_its_window_or_without_threads_opens_none() -> None:
    late = react(deploy(deployed_at=NOW - 601), None, [], ON, NOW)
    assert late.threads == [] and late.slack == [] and len(late.annotations) == 1
    unwatched = Settings(threads=True, annotations=False, watch={})
    assert react(deploy(), None, [], unwatched, NOW).threads == []
    off = Settings(threads=False, annotations=True, watch={"api": 600.0})
    assert react(deploy(), None, [], off, NOW).threads == []


def test_a_newer_revision_supersedes_the_one_still_rolling_out() -> None:
    out = react(deploy("6", previous="5"), None, [opened()], ON, NOW)
    statuses = [(t.revision, t.status) for t in out.threads]
    assert statuses == [("6", "rolling_out"), ("5", "superseded")]
    assert {"op": "update", "service": "api", "revision": "5"} in out.slack
    assert [t.revision for t in out.settled] == ["5"]


def test_verdicts_are_remembered_and_decide_the_end_of_the_window() -> None:
    data = {"revision": "5", "outcome": "pass", "reason": "ok", "line": "error_rate pass: ok"}
    out = react(Event("verdict", "v1", "api", NOW, data), opened(), [], ON, NOW)
    thread = out.threads[0]
    assert (thread.verdict, thread.verdict_line, out.slack) == ("pass", "error_rate pass: ok", [])
    assert settle(thread, NOW + 589) is None  # the window lasts
    done = settle(thread, NOW + 590)
    assert done is not None and done.threads[0].status == "verified"
    assert [s["op"] for s in done.slack] == ["update", "reply"]
    assert done.slack[1]["text"].startswith("Every trigger passed")
    failing = settle(replace(thread, verdict="fail", verdict_line="error_rate fail: x"), NOW + 600)
    assert failing is not None and failing.threads[0].status == "failing"
    unclear = settle(replace(thread, verdict="no_verdict", verdict_line="no traffic"), NOW + 600)
    assert unclear is not None and unclear.threads[0].status == "no_verdict"
    never = settle(replace(thread, verdict=None, verdict_line=""), NOW + 600)
    assert never is not None and "not evaluated" in never.threads[0].detail
    assert settle(replace(thread, status="rolled_back"), NOW + 600) is None
    rolling_back = replace(thread, status="rolling_back")
    assert settle(rolling_back, NOW + 590 + 3599) is None  # its result may still come
    lost = settle(rolling_back, NOW + 590 + 3600)
    assert lost is not None and lost.threads[0].status == "no_verdict"
    assert lost.threads[0].detail == "no verdict: the rollback's result was never recorded"


def test_a_rollback_moves_the_thread_and_its_result_is_an_annotation() -> None:
    decided = react(
        rollback(
            phase="decision",
            action="rollback",
            reason="every sample above 0.05",
            summary="error_rate fail: every sample above 0.05 (max 0.2, threshold 0.05)",
        ),
        opened(),
        [],
        ON,
        NOW,
    )
    assert decided.threads[0].status == "rolling_back"
    assert decided.slack[-1]["text"].startswith("Rolling back to revision 4: error_rate fail")
    assert decided.annotations == []
    result = react(
        rollback(
            phase="result",
            result="success",
            revision_after="6",
            started_at=NOW - 3,
            reason="every sample above 0.05",
        ),
        decided.threads[0],
        [],
        ON,
        NOW,
    )
    assert result.threads[0].status == "rolled_back"
    assert result.settled == result.threads
    assert result.annotations == [
        {
            "time": round((NOW - 3) * 1000),
            "tags": ["rollback", "api"],
            "text": "api rolled back from revision 5 to 6: success "
            "(trigger error_rate: every sample above 0.05)",
        }
    ]
    failed = react(rollback(phase="result", result="failure"), opened(), [], ON, NOW)
    assert failed.threads[0].status == "rollback_failed"


def test_dry_runs_and_blocked_decisions_are_thread_replies_only() -> None:
    dry = react(rollback(phase="decision", action="dry_run", reason="r"), opened(), [], ON, NOW)
    assert dry.threads == [] and dry.annotations == []
    assert dry.slack[0]["text"] == "Would roll back to revision 4 (dry run): r"
    none = react(
        rollback(phase="decision", action="none", reason="in cooldown"), opened(), [], ON, NOW
    )
    assert none.slack[0]["text"] == "Trigger error_rate failed, not rolled back: in cooldown"


def test_a_silence_is_a_region_annotation_tagged_with_its_service() -> None:
    event = silence(
        {"alertname": "HighErrorRate", "service": "api"},
        silence_id="s-1",
        created_by="alice",
        starts_at=NOW,
        ends_at=NOW + 3600,
        comment="Silenced 1h from Slack: HighErrorRate",
    )
    out = react(event, None, [], ON, NOW)
    assert out.annotations == [
        {
            "time": round(NOW * 1000),
            "timeEnd": round((NOW + 3600) * 1000),
            "tags": ["silence", "api"],
            "text": "Silenced by alice: Silenced 1h from Slack: HighErrorRate "
            "(alertname=HighErrorRate, service=api)",
        }
    ]
    no_service = silence(
        {"alertname": "X"},
        silence_id="s",
        created_by="b",
        starts_at=NOW,
        ends_at=NOW + 1,
        comment="c",
    )
    assert react(no_service, None, [], ON, NOW).annotations[0]["tags"] == ["silence"]
    off = Settings(threads=True, annotations=False, watch={})
    assert react(event, None, [], off, NOW).annotations == []


def test_the_parent_message_shows_the_status_and_the_revision() -> None:
    msg = messages.parent(opened(status="verified", detail="every trigger passed"))
    assert msg["text"] == ":white_check_mark: api revision 5: verified"
    blocks = msg["attachments"][0]["blocks"]
    assert "*Revision*\n5 (previous 4)" in [f["text"] for f in blocks[1]["fields"]]
    assert blocks[2]["text"]["text"] == "every trigger passed"
