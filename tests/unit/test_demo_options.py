"""`--alert-for` caps the demo's alert `for` values and touches nothing else."""

from __future__ import annotations

from pathlib import Path

import yaml

from sre.config.durations import Duration
from sre.devtools.demo import cap_alert_for


def test_only_longer_for_values_are_cut(tmp_path: Path) -> None:
    rules = {
        "groups": [
            {
                "name": "g",
                "rules": [
                    {"alert": "Slow", "expr": "up == 0", "for": "2m"},
                    {"alert": "Quick", "expr": "up == 0", "for": "5s"},
                    {"alert": "Always", "expr": "vector(1)"},
                    {"record": "r:up:sum", "expr": "sum(up)"},
                ],
            }
        ]
    }
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(rules))
    assert cap_alert_for(tmp_path, Duration.parse("10s")) == 1
    got = yaml.safe_load((tmp_path / "a.yaml").read_text())["groups"][0]["rules"]
    assert [r.get("for") for r in got] == ["10s", "5s", None, None]
    assert [r["expr"] for r in got] == [r["expr"] for r in rules["groups"][0]["rules"]]
