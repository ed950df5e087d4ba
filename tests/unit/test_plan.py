"""The pure publish plan: compare dashboards by meaning, short diffs, safe pruning."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sre.publish.plan import count, diff, plan_dashboard, plan_prune, summarise

TAG = "managed-by-sre"


def dash(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "uid": "u",
        "title": "T",
        "tags": [TAG],
        "panels": [
            {"id": 1, "title": "A", "targets": [{"expr": "up"}]},
            {"id": 2, "title": "B", "targets": [{"expr": "rate(x[5m])"}]},
        ],
    }
    base.update(extra)
    return base


def remote(d: dict[str, Any], folder: str = "f", version: int = 3) -> dict[str, Any]:
    return {"dashboard": {**d, "id": 42, "version": version}, "meta": {"folderUid": folder}}


def test_absent_is_create() -> None:
    p = plan_dashboard(dash(), None, "f")
    assert (p.action, p.uid, p.title, p.changes, p.remote_version) == ("create", "u", "T", (), None)


def test_id_version_and_key_order_do_not_count() -> None:
    local = dict(reversed(list(dash(id=None, version=1).items())))
    p = plan_dashboard(local, remote(dash(), version=9), "f")
    assert p.action == "unchanged" and p.changes == () and p.remote_version == 9


def test_changed_expression_is_an_update_with_its_path() -> None:
    new = dash()
    new["panels"][1]["targets"][0]["expr"] = "rate(x[1m])"
    p = plan_dashboard(new, remote(dash()), "f")
    assert p.action == "update"
    assert p.changes == ("~ panels[id=2].targets[0].expr: 'rate(x[5m])' -> 'rate(x[1m])'",)


def test_panels_are_matched_by_id_not_position() -> None:
    old = dash()
    new = dash(panels=[*old["panels"], {"id": 3, "title": "C"}])
    # An inserted panel is named once, rather than every later position reported changed.
    assert diff(old, new) == ["+ panels[id=3]"]
    assert diff(new, old) == ["- panels[id=3]"]
    swapped = dash(panels=[old["panels"][1], old["panels"][0]])
    assert diff(old, swapped) == ["~ panels: order"]


def test_added_and_removed_keys() -> None:
    assert diff(dash(), dash(refresh="30s")) == ["+ refresh"]
    old = dash(refresh="30s")
    assert diff(old, dash()) == ["- refresh"]


def test_folder_move_is_an_update() -> None:
    p = plan_dashboard(dash(), remote(dash(), folder=""), "f")
    assert p.action == "update" and p.changes == ("~ folder: 'General' -> 'f'",)


def test_long_diffs_are_cut_short() -> None:
    lines = [f"~ x{i}" for i in range(10)]
    assert summarise(lines, limit=4) == ("~ x0", "~ x1", "~ x2", "... and 7 more")
    assert summarise(lines[:4], limit=4) == tuple(lines[:4])


def test_prune_only_tagged_and_not_in_code() -> None:
    found = [
        {"uid": "keep", "title": "Keep", "tags": [TAG], "type": "dash-db"},
        {"uid": "stale", "title": "Stale", "tags": [TAG, "x"], "type": "dash-db"},
        {"uid": "untagged", "title": "Theirs", "tags": ["x"], "type": "dash-db"},
        {"uid": "folder", "title": "F", "tags": [TAG], "type": "dash-folder"},
    ]
    stale = plan_prune(["keep"], found, TAG)
    assert [(s.uid, s.title) for s in stale] == [("stale", "Stale")]


def test_count() -> None:
    plans = [plan_dashboard(dash(uid=str(i)), None, "f") for i in range(3)]
    plans.append(plan_dashboard(dash(), remote(dash()), "f"))
    assert count(plans) == {"create": 3, "update": 0, "unchanged": 1}


keys = st.sampled_from(["id", "uid", "title", "panels", "expr"]) | st.text(max_size=4)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=3),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=4), json_values, max_size=5))
def test_a_dashboard_never_differs_from_itself(d: dict[str, Any]) -> None:
    assert diff(d, dict(reversed(list(d.items())))) == []


@given(
    st.dictionaries(st.text(max_size=4), json_values, max_size=5),
    st.dictionaries(st.text(max_size=4), json_values, max_size=5),
)
def test_diff_is_empty_exactly_when_equal_by_meaning(a: dict[str, Any], b: dict[str, Any]) -> None:
    strip = {"id", "version"}
    same = {k: v for k, v in a.items() if k not in strip} == {
        k: v for k, v in b.items() if k not in strip
    }
    assert (diff(a, b) == []) == same
