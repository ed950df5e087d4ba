"""Rule files and Kubernetes objects are written with libyaml's emitter (fast at 500
services); its text must be PyYAML's own, byte for byte, so the output stays the same
wherever PyYAML was built without libyaml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rules import all_groups
from sre.config import load_config
from sre.render import rulefiles

ROOT = Path(__file__).resolve().parents[2]
ODD = {
    "multi": "a\nb\n",
    "trailing space": "line \nnext",
    "tab": "a\tb\nc",
    "unicode": "caf\u00e9 \u2028 \u00a0x",
    "control": "bell\x07\nx",
    "quotes": 'it\'s "quoted": yes # no',
    "empty": "",
    "number-like": "0.10",
    "nested": [{"k": "v\n"}, "- dash", None, True, 1.5],
}


def test_libyaml_is_in_use() -> None:
    assert issubclass(rulefiles._Dumper, yaml.CSafeDumper)


@pytest.mark.parametrize("key", sorted(ODD))
def test_odd_strings_come_out_the_same(key: str) -> None:
    data = {key: ODD[key]}
    assert rulefiles.dump_yaml(data) == rulefiles.dump_yaml(data, pure=True)
    assert yaml.safe_load(rulefiles.dump_yaml(data)) == data


def test_every_rule_file_comes_out_the_same() -> None:
    cfg = load_config(ROOT / "sre.yaml")
    for group in all_groups(cfg):
        data = {"groups": [group.to_dict()]}
        assert rulefiles.dump_yaml(data) == rulefiles.dump_yaml(data, pure=True), group.name
