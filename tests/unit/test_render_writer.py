"""The writer empties only directories it wrote: --out at the source tree deletes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from sre.render import writer


def test_rewrites_its_own_directories(tmp_path: Path) -> None:
    (tmp_path / "dashboards").mkdir()
    (tmp_path / "dashboards" / "stale.json").write_text("{}")
    writer.write(tmp_path, {"dashboards/new.json": "{}\n", "rules/a.yaml": "groups: []\n"})
    assert sorted(p.name for p in (tmp_path / "dashboards").iterdir()) == ["new.json"]
    assert (tmp_path / "rules" / "a.yaml").read_text() == "groups: []\n"


def test_refuses_to_clear_a_directory_it_did_not_write(tmp_path: Path) -> None:
    source = tmp_path / "rules"
    (source / "tests").mkdir(parents=True)
    (source / "__init__.py").write_text("# source code\n")
    (tmp_path / "dashboards").mkdir()
    (tmp_path / "dashboards" / "keep.json").write_text("{}")
    with pytest.raises(writer.NotOurs, match=r"refusing to clear .*rules: it holds"):
        writer.write(tmp_path, {"rules/a.yaml": "groups: []\n"})
    # Nothing was deleted, not even the directories that were ours.
    assert (source / "__init__.py").exists() and (source / "tests").is_dir()
    assert (tmp_path / "dashboards" / "keep.json").exists()
