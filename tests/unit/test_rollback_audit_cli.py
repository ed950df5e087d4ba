"""``python -m sre.daemon audit``: listing, filtering, JSON, and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sre.daemon.__main__ import main
from sre.runtime.store.sqlite import open_sqlite


def config(tmp: Path) -> str:
    path = tmp / "sre.yaml"
    data = {
        "system": "t",
        "prometheus": {"url": "http://127.0.0.1:9"},
        "runbooks": {"base_url": "http://r/"},
        "services": [{"name": "api", "namespace": "ns"}],
        "daemon": {"state": f"sqlite:///{tmp}/state.db"},
    }
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_lists_newest_first_filtered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = config(tmp_path)
    store = open_sqlite(tmp_path / "state.db")
    for i, service in enumerate(["api", "web", "api"]):
        data = {"phase": "decision", "service": service, "action": "rollback", "reason": f"r{i}"}
        store.audit_add("rollback", service, {**data, "revision": str(i), "previous": None})
    store.audit_add("other", "api", {"not": "a rollback"})
    store.close()
    assert main(["audit", "--config", path, "--service", "api", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["reason"] for r in records] == ["r2", "r0"]
    assert main(["audit", "--config", path, "--limit", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and "web" not in lines[1] and "r2" in lines[1]


def test_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = config(tmp_path)
    assert main(["audit", "--config", path]) == 1
    assert "no state store" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["audit", "--config", path, "--limit", "0"])
    assert exit_.value.code == 2
    assert main(["audit", "--config", str(tmp_path / "missing.yaml")]) == 2
