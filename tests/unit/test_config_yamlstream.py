"""The streaming YAML loader returns exactly what ``yaml.load`` (libyaml, safe) returns:
the same values of the same types, the same shared objects for aliases, and the same
errors; what it leaves to PyYAML (merge keys, tagged collections) still loads."""

from __future__ import annotations

import datetime
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sre.config import yamlstream

ROOT = Path(__file__).resolve().parents[2]


def typed(value: Any) -> Any:
    """``value`` with every type spelled out (``True == 1`` and ``1.0 == 1`` in Python)."""
    if isinstance(value, dict):
        return ("dict", [(typed(k), typed(v)) for k, v in value.items()])
    if isinstance(value, list | tuple | set):
        items = sorted(value, key=repr) if isinstance(value, set) else value
        return (type(value).__name__, [typed(v) for v in items])
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, value)


def pyyaml(text: str) -> Any:
    return yaml.load(text, Loader=yamlstream.LOADER)


def same(text: str) -> Any:
    loaded = yamlstream.load(text)
    assert typed(loaded) == typed(pyyaml(text))
    return loaded


SCALARS = """
ints: [1, -2, 0o17, 0x1f, 1_000, "1", '2', !!str 3, +5]
floats: [1.5, -0.25, 1e3, .inf, -.Inf, .nan, 6.8523015e+5]
bools: [true, False, yes, no, on, Off, y, n]
nulls: [~, null, Null, ]
empty:
times: [2026-11-29, 2026-11-29T10:00:00Z, 2026-11-29 10:00:00.5 +02:00]
strings: [plain text, "quoted\\ttab", 'single ''q''', "\\u00e9t\\u00e9", "10s", 12:30]
block: |
  two
  lines
folded: >
  one
  line
explicit: {a: !!int "7", b: !!float "1", c: !!bool "true", d: !!null ""}
binary: !!binary aGVsbG8=
"""


def test_scalars_mean_what_they_mean_to_pyyaml() -> None:
    loaded = same(SCALARS)
    assert loaded["ints"][:2] == [1, -2] and loaded["bools"][4] is True
    assert loaded["times"][0] == datetime.date(2026, 11, 29)
    assert loaded["empty"] is None and loaded["binary"] == b"hello"


def test_nesting_anchors_and_aliases() -> None:
    text = """
    defaults: &d {interval: 15s, timeout: 1s, tags: [a, b]}
    probes:
      - name: one
        settings: *d
      - {name: two, settings: *d, list: &l [1, [2, [3, {deep: true}]]]}
      - *l
    ? complex key
    : value
    """
    loaded = same(text)
    assert loaded["probes"][0]["settings"] is loaded["defaults"]  # one object, as PyYAML's
    assert loaded["probes"][2] is loaded["probes"][1]["list"]


@pytest.mark.parametrize(
    "text",
    [
        "base: &b {a: 1}\nderived:\n  <<: *b\n  c: 2\n",  # merge key
        "s: !!set {a, b}\n",
        "o: !!omap [{a: 1}, {b: 2}]\n",
        "p: !!pairs [{a: 1}, {a: 2}]\n",
        "",  # an empty file is None
        "# only a comment\n",
        "--- just a scalar\n",
    ],
)
def test_what_is_left_to_pyyaml_still_loads(text: str) -> None:
    same(text)


@pytest.mark.parametrize(
    "text",
    [
        "a: [1, 2\n",  # unclosed flow sequence
        "a: 1\n a: 2\n  b\n",  # bad indentation
        "a: *nowhere\n",  # undefined alias
        "--- 1\n--- 2\n",  # two documents
        "{[1, 2]: x}\n",  # unhashable key
        "a: !!python/object:os.system x\n",  # not a safe tag
        "a: !custom x\n",
        "a: !!map foo\n",  # collection tags on scalars
        "a: !!seq foo\n",
        "a: !!set foo\n",
        "a: &x 1\nb: &x 2\nc: *x\n",  # a duplicate anchor
    ],
)
def test_errors_are_pyyaml_errors_with_pyyaml_words(text: str) -> None:
    with pytest.raises(yaml.YAMLError) as theirs:
        pyyaml(text)
    with pytest.raises(yaml.YAMLError) as ours:
        yamlstream.load(text)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("a: 1\nt: !!timestamp soon\n", "'soon' is not a valid timestamp"),
        ("a: 1\nt: !!bool maybe\n", "'maybe' is not a valid bool"),
        ("a: 1\nt: !!binary abc\n", "failed to decode base64"),
    ],
)
def test_a_scalar_its_constructor_cannot_read_is_a_yaml_error_with_its_line(
    text: str, why: str
) -> None:
    """PyYAML itself fails on the first two with an AttributeError and a KeyError."""
    with pytest.raises(yaml.YAMLError, match=why) as err:
        yamlstream.load(text)
    assert "line 2, column 4" in str(err.value)


def test_what_pyyaml_cannot_read_on_its_own_path_is_a_yaml_error_too() -> None:
    with pytest.raises(yaml.YAMLError, match="cannot read"):
        yamlstream.load("b: &b {a: 1}\nd:\n  <<: *b\n  t: !!bool maybe\n")


def test_every_yaml_file_of_the_project_loads_the_same() -> None:
    files = [
        p
        for pattern in ("*.yaml", "deploy/**/*.yaml", "examples/**/*.yaml", "rules/**/*.yaml")
        for p in ROOT.glob(pattern)
        if ".venv" not in p.parts and "templates" not in p.parts
    ]
    single = [p for p in files if len(list(yaml.safe_load_all(p.read_text()))) == 1]
    assert len(single) >= 10  # sre.yaml, deploy/, examples/, the rule tests
    for path in single:
        same(path.read_text())


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.dates()
)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(documents, st.booleans(), st.sampled_from([None, '"', "'", "|"]))
def test_whatever_pyyaml_dumps_loads_the_same(value: Any, flow: bool, style: str | None) -> None:
    same(yaml.safe_dump(value, default_flow_style=flow, default_style=style, allow_unicode=True))
