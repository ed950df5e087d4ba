"""The README documents what users rely on: every sre.yaml key, every daemon metric."""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path
from typing import Any, get_args, get_type_hints

from sre.catalog import AGENT_METRICS, DAEMON_METRICS
from sre.config import Config
from sre.config.loader import yaml_key

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
# The README links into docs/ pages; a key documented on one of them is documented.
DOCS = README + "".join(p.read_text() for p in sorted((ROOT / "docs").glob("*.md")))
# Every identifier that appears inside `code` spans: `slo.availability`, `sre_x{service}`...
CODE_WORDS = {
    word for span in re.findall(r"`([^`\n]+)`", DOCS) for word in re.findall(r"[a-z_0-9]+", span)
}


def _config_keys(cls: type, seen: set[type]) -> set[str]:
    if cls in seen:
        return set()
    seen.add(cls)
    keys: set[str] = set()
    hints = get_type_hints(cls)
    for field in dataclasses.fields(cls):
        keys.add(yaml_key(field))
        for inner in _flatten(hints[field.name]):
            if dataclasses.is_dataclass(inner) and inner.__name__ != "Duration":
                keys |= _config_keys(typing.cast(type, inner), seen)
    return keys


def _flatten(hint: Any) -> list[Any]:
    args = get_args(hint)
    if not args:
        return [hint]
    return [leaf for arg in args for leaf in _flatten(arg)]


def test_quick_start_comes_first_with_the_two_commands() -> None:
    first_section = README.split("\n## ")[1]
    assert first_section.startswith("Quick start")
    assert "make render" in first_section and "make test" in first_section


def test_every_config_key_is_documented() -> None:
    missing = sorted(_config_keys(Config, set()) - CODE_WORDS)
    assert missing == [], f"sre.yaml keys missing from README.md and docs/: {missing}"


def test_every_daemon_metric_is_documented() -> None:
    missing = sorted(name for name in DAEMON_METRICS if name not in CODE_WORDS)
    assert missing == [], f"metrics missing from README.md: {missing}"


def test_every_metric_this_project_defines_for_agents_is_documented() -> None:
    missing = sorted(name for name in AGENT_METRICS if name not in CODE_WORDS)
    assert missing == [], f"agent/queue metrics missing from README.md: {missing}"
