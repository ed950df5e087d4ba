"""Rule groups -> plain Prometheus rule files (``build/rules/<file>.yaml``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import yaml

from sre.model import RuleGroup


class _Dumper(yaml.SafeDumper):
    """Block style everywhere; multi-line strings (long PromQL) as ``|`` literals."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(data: object) -> str:
    """Deterministic YAML: key order as given, no line wrapping, UTF-8 text, trailing newline."""
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        width=10_000,
        allow_unicode=True,
    )


def rule_files(groups: Iterable[RuleGroup]) -> dict[str, str]:
    """Map ``<file>.yaml`` -> file text, groups in the order given within each file."""
    by_file: dict[str, list[RuleGroup]] = defaultdict(list)
    for group in groups:
        by_file[group.file].append(group)
    return {
        f"{name}.yaml": dump_yaml({"groups": [g.to_dict() for g in file_groups]})
        for name, file_groups in sorted(by_file.items())
    }
