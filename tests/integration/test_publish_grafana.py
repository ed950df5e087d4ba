"""Publishing dashboards against a local server implementing Grafana's documented API."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sre.config import Config, parse_config
from sre.publish import publish
from tests.helpers import free_port
from tests.helpers.fake_grafana import FakeGrafana

TOKEN = "glsa_test-token-value-0123456789"
ENV = "TEST_GRAFANA_TOKEN"
TAG = "managed-by-sre"
FOLDER = "parallel-ai"


def dashboard(uid: str, title: str, expr: str = "up") -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "tags": ["parallel-ai", TAG],
        "schemaVersion": 39,
        "panels": [
            {"id": 1, "type": "stat", "title": "Up", "targets": [{"expr": "up"}]},
            {"id": 2, "type": "timeseries", "title": "Rate", "targets": [{"expr": expr}]},
        ],
    }


def config(url: str) -> Config:
    return parse_config(
        {
            "system": "parallel-ai",
            "prometheus": {"url": "http://127.0.0.1:9"},
            "runbooks": {"base_url": "https://git.example.com/runbooks/"},
            "grafana": {
                "url": url,
                "token_env": ENV,
                "folder": "Parallel AI",
                "folder_uid": FOLDER,
            },
            "services": [{"name": "api-service", "namespace": "parallel-ai-system"}],
        }
    )


def write(out: Path, *dashboards: dict[str, Any]) -> None:
    directory = out / "dashboards"
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.json"):
        old.unlink()
    for d in dashboards:
        (directory / f"{d['uid']}.json").write_text(json.dumps(d, sort_keys=True, indent=2))


@pytest.fixture
def grafana(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGrafana]:
    monkeypatch.setenv(ENV, TOKEN)
    with FakeGrafana(TOKEN) as server:
        yield server


def run(cfg: Config, out: Path, capsys: pytest.CaptureFixture[str], **kw: Any) -> tuple[int, str]:
    kw.setdefault("dry_run", False)
    kw.setdefault("prune", False)
    code = publish(cfg, out, **kw)
    text = capsys.readouterr().out
    assert TOKEN not in text
    return code, text


def test_missing_token_names_the_variable(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    grafana: FakeGrafana,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ENV)
    write(tmp_path, dashboard("a", "A"))
    code, text = run(config(grafana.url), tmp_path, capsys)
    assert code == 1
    assert f"environment variable {ENV} is not set" in text
    assert grafana.calls == []


def test_wrong_token_is_an_auth_error(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    grafana: FakeGrafana,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV, "not-the-token")
    write(tmp_path, dashboard("a", "A"))
    code, text = run(config(grafana.url), tmp_path, capsys)
    assert code == 1
    errors = [line for line in text.splitlines() if "error" in line]
    assert len(errors) == 1 and "refused the token (401" in errors[0]
    assert "not-the-token" not in text
    assert grafana.writes() == []


def test_unreachable_grafana(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, TOKEN)
    write(tmp_path, dashboard("a", "A"))
    code, text = run(config(f"http://127.0.0.1:{free_port()}"), tmp_path, capsys)
    assert code == 1
    errors = [line for line in text.splitlines() if "error" in line]
    assert len(errors) == 1 and "is unreachable" in errors[0]


def test_first_publish_creates_folder_and_dashboards_then_nothing_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], grafana: FakeGrafana
) -> None:
    write(tmp_path, dashboard("a", "A"), dashboard("b", "B"))
    cfg = config(grafana.url)
    code, text = run(cfg, tmp_path, capsys, message="abc1234")
    assert code == 0, text
    assert "create    folder parallel-ai  'Parallel AI'" in text
    assert "create    a  'A'" in text and "create    b  'B'" in text
    assert grafana.folders[FOLDER]["title"] == "Parallel AI"
    assert {u: s.folder_uid for u, s in grafana.dashboards.items()} == {"a": FOLDER, "b": FOLDER}
    assert grafana.dashboards["a"].messages == ["abc1234"]
    assert grafana.dashboards["a"].dashboard["panels"] == dashboard("a", "A")["panels"]

    writes_before = len(grafana.writes())
    code, text = run(cfg, tmp_path, capsys)
    assert code == 0
    assert (
        "unchanged a" in " ".join(text.split()) and "0 to create, 0 to update, 2 unchanged" in text
    )
    assert len(grafana.writes()) == writes_before


def test_compares_by_meaning_not_id_version_or_key_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], grafana: FakeGrafana
) -> None:
    grafana.add_folder(FOLDER, "Parallel AI")
    local = dashboard("a", "A")
    reordered = json.loads(json.dumps(local, sort_keys=True))
    reordered = dict(reversed(list(reordered.items())))
    grafana.add_dashboard(reordered, FOLDER, version=17)
    write(tmp_path, {**local, "id": 999, "version": 3})
    code, text = run(config(grafana.url), tmp_path, capsys)
    assert code == 0
    assert "1 unchanged" in text
    assert grafana.writes() == []


def test_update_prints_a_short_diff_and_keeps_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], grafana: FakeGrafana
) -> None:
    grafana.add_folder(FOLDER, "Parallel AI")
    grafana.add_dashboard(dashboard("a", "A"), FOLDER, version=4)
    write(tmp_path, dashboard("a", "A", expr="rate(x[5m])"))
    code, text = run(config(grafana.url), tmp_path, capsys)
    assert code == 0, text
    assert "update    a  'A'" in text
    assert "~ panels[id=2].targets[0].expr: 'up' -> 'rate(x[5m])'" in text
    stored = grafana.dashboards["a"].dashboard
    assert stored["version"] == 5
    assert stored["panels"][1]["targets"][0]["expr"] == "rate(x[5m])"
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    assert grafana.dashboards["a"].messages == [commit or "sre render"]


def test_moves_a_dashboard_into_the_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], grafana: FakeGrafana
) -> None:
    grafana.add_folder(FOLDER, "Parallel AI")
    grafana.add_dashboard(dashboard("a", "A"), "")
    write(tmp_path, dashboard("a", "A"))
    code, text = run(config(grafana.url), tmp_path, capsys)
    assert code == 0
    assert "~ folder: 'General' -> 'parallel-ai'" in text
    assert grafana.dashboards["a"].folder_uid == FOLDER


class RacingGrafana(FakeGrafana):
    """Someone saves the dashboard in the UI right after publish has read it."""

    def _get(self, uid: str) -> tuple[int, Any]:
        answer = super()._get(uid)
        if uid in self.dashboards:
            self.dashboards[uid].dashboard["version"] += 1
        return answer


def test_version_mismatch_412_is_reported_and_others_still_publish(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, TOKEN)
    with RacingGrafana(TOKEN) as grafana:
        grafana.add_folder(FOLDER, "Parallel AI")
        grafana.add_dashboard(dashboard("a", "A"), FOLDER)
        write(tmp_path, dashboard("a", "A", expr="changed"), dashboard("b", "B"))
        code, text = run(config(grafana.url), tmp_path, capsys)
        assert code == 1
        errors = [line for line in text.splitlines() if "error" in line]
        assert len(errors) == 1
        assert "a: it was changed in Grafana after the plan was read" in errors[0]
        assert "412 version-mismatch" in errors[0]
        assert grafana.dashboards["a"].dashboard["panels"][1]["targets"][0]["expr"] == "up"
        assert "b" in grafana.dashboards
        assert "publish: FAILED" in text


def test_name_exists_412(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], grafana: FakeGrafana
) -> None:
    grafana.add_folder(FOLDER, "Parallel AI")
    grafana.add_dashboard({"uid": "someone-elses", "title": "A", "tags": []}, FOLDER)
    write(tmp_path, dashboard("a", "A"))
    code, text = run(config(grafana.url), tmp_path, capsys)
    assert code == 1
    assert "already has this title" in text and "412 name-exists" in text
    assert set(grafana.dashboards) == {"someone-elses"}


def test_prune_removes_only_tagged_dashboards_of_the_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], grafana: FakeGrafana
) -> None:
    grafana.add_folder(FOLDER, "Parallel AI")
    grafana.add_folder("other", "Other")
    grafana.add_dashboard(dashboard("a", "A"), FOLDER)
    grafana.add_dashboard(dashboard("stale", "Stale"), FOLDER)
    grafana.add_dashboard({"uid": "handmade", "title": "Handmade", "tags": ["x"]}, FOLDER)
    grafana.add_dashboard(dashboard("elsewhere", "Elsewhere"), "other")
    write(tmp_path, dashboard("a", "A"))
    cfg = config(grafana.url)

    code, text = run(cfg, tmp_path, capsys)  # without --prune nothing is deleted
    assert code == 0 and "delete" not in text
    assert set(grafana.dashboards) == {"a", "stale", "handmade", "elsewhere"}

    code, text = run(cfg, tmp_path, capsys, prune=True)
    assert code == 0, text
    assert "delete    stale  'Stale'" in text and "1 to delete" in text
    assert set(grafana.dashboards) == {"a", "handmade", "elsewhere"}


def test_dry_run_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], grafana: FakeGrafana
) -> None:
    grafana.add_folder(FOLDER, "Parallel AI")
    grafana.add_dashboard(dashboard("a", "A"), FOLDER)
    grafana.add_dashboard(dashboard("stale", "Stale"), FOLDER)
    before = copy.deepcopy({u: s.dashboard for u, s in grafana.dashboards.items()})
    write(tmp_path, dashboard("a", "A", expr="new"), dashboard("b", "B"))
    code, text = run(config(grafana.url), tmp_path, capsys, dry_run=True, prune=True)
    assert code == 0
    assert "update    a" in text and "create    b" in text and "delete    stale" in text
    assert "dry run: nothing was changed" in text
    assert grafana.writes() == []
    assert {u: s.dashboard for u, s in grafana.dashboards.items()} == before


def test_dry_run_with_missing_folder_does_not_create_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], grafana: FakeGrafana
) -> None:
    write(tmp_path, dashboard("a", "A"))
    code, text = run(config(grafana.url), tmp_path, capsys, dry_run=True)
    assert code == 0 and "create    folder parallel-ai" in text
    assert grafana.writes() == [] and grafana.folders == {}


def test_bad_dashboard_file_fails_but_others_publish(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], grafana: FakeGrafana
) -> None:
    write(tmp_path, dashboard("a", "A"))
    (tmp_path / "dashboards" / "broken.json").write_text('{"title": "no uid"}')
    code, text = run(config(grafana.url), tmp_path, capsys)
    assert code == 1
    assert "broken.json: a dashboard needs a non-empty string 'uid'" in text
    assert "a" in grafana.dashboards


def test_adds_the_ownership_tag_when_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], grafana: FakeGrafana
) -> None:
    write(tmp_path, {"uid": "a", "title": "A", "tags": ["x"]})
    code, _ = run(config(grafana.url), tmp_path, capsys)
    assert code == 0
    assert grafana.dashboards["a"].dashboard["tags"] == ["x", TAG]
    code, text = run(config(grafana.url), tmp_path, capsys)
    assert code == 0 and "1 unchanged" in text


def test_real_rendered_dashboards_publish_once_then_stay_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], grafana: FakeGrafana
) -> None:
    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "build"
    subprocess.run(
        [sys.executable, "-m", "sre.render", "--config", str(root / "sre.yaml"),
         "--out", str(out), "--skip-promtool"],
        cwd=root, capture_output=True, check=False, timeout=240,
    )  # fmt: skip
    rendered = {p.stem: json.loads(p.read_text()) for p in (out / "dashboards").glob("*.json")}
    assert rendered, "the render wrote no dashboards"
    cfg = parse_config(
        {**yaml.safe_load((root / "sre.yaml").read_text()),
         "grafana": {"url": grafana.url, "token_env": ENV, "folder_uid": FOLDER}},
    )  # fmt: skip
    assert all(TAG in d.get("tags", []) for d in rendered.values())
    code, text = run(cfg, out, capsys)
    assert code == 0, text
    assert set(grafana.dashboards) == set(rendered)
    code, text = run(cfg, out, capsys, prune=True)
    assert code == 0, text
    assert f"0 to create, 0 to update, {len(rendered)} unchanged, 0 to delete" in text
