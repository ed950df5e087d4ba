"""Rule groups -> plain Prometheus rule files (``build/rules/<file>.yaml``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import yaml

from sre.model import RuleGroup

# libyaml's emitter where PyYAML was built with it: the same text (the render tests compare
# files byte for byte), about seven times faster, which matters with a ServiceMonitor per
# service and a catalogue record per service at 500 services.
_Base: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_Base):  # type: ignore[valid-type,misc]
    """Block style everywhere; multi-line strings (long PromQL) as ``|`` literals."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


class _PureDumper(yaml.SafeDumper):
    """The same, with PyYAML's own emitter: what the tests compare libyaml's text with."""


_PureDumper.add_representer(str, _str)


def dump_yaml(data: object, *, pure: bool = False) -> str:
    """Deterministic YAML: key order as given, no line wrapping, UTF-8 text, trailing newline."""
    return yaml.dump(
        data,
        Dumper=_PureDumper if pure else _Dumper,
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
