"""Before the typed loader: ``service_defaults:`` and the services of ``include:`` files.

A config that splits by team is one main file plus team files::

    service_defaults: {health: {interval: 30s}, slo: {availability: 99.5}}
    include: [services/*.yaml]       # globbed next to this file, sorted

    # services/team-a.yaml
    service_defaults: {namespace: team-a}
    services:
      - {name: api, health: {url: http://api.team-a.svc/healthz}}

Each service is the deep merge of the main file's defaults, its own file's defaults and
its own mapping (later wins; mappings merge key by key, anything else is replaced, and
``key: null`` drops a default). A default section that lacks one of its required keys
(``health`` without ``url``, ``rollback`` without ``target``) only fills in services that
have that section; a complete one (``slo: {availability: 99.5}``) applies to every service.

Pure: the caller reads the files. :func:`compose` returns plain data for the loader and a
:class:`Provenance` that turns the loader's key paths (``services[7].rollback.for``) back
into where the value was written (``services/team-a.yaml: services[2].rollback.for``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, get_args, get_type_hints

from sre.config.loader import Problem, yaml_key
from sre.config.services import Service

INCLUDE = "include"
DEFAULTS = "service_defaults"
# What an included file may hold.
INCLUDED_KEYS = ("service_defaults", "services")
# The two keys this layer reads, for the generated reference: (key, type, default, meaning).
KEYS = (
    (
        DEFAULTS,
        "mapping of service keys",
        "none",
        "merged into every service (deep, the service's own keys win; `key: null` drops one); "
        "a section lacking a required key only fills in services that have it; see "
        "[scale](../scale.md)",
    ),
    (
        INCLUDE,
        "list of file patterns",
        "`[]`",
        "files of `services` (and their own `service_defaults`), globbed next to this file "
        "and read in sorted order; problems name the file",
    ),
)
_TOKEN = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_SERVICE_PATH = re.compile(r"services\[(\d+)\]")

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class IncludedFile:
    """One file an ``include`` pattern matched: its name as shown, and its parsed YAML."""

    name: str
    data: object


@dataclass(frozen=True)
class Origin:
    file: str  # "" = the main file
    path: str  # where in that file: "services[2]" or "service_defaults"


@dataclass
class Provenance:
    """Where each merged service's values were written."""

    services: list[Origin] = field(default_factory=list)  # services[i] of the merged list
    # per merged service: key path inside it -> where that value came from
    values: list[dict[Path, Origin]] = field(default_factory=list)

    def locate(self, problem: Problem) -> Problem:
        """``problem`` with its path (and file) where the user wrote the value."""
        match = _SERVICE_PATH.match(problem.path)
        if match is None or int(match.group(1)) >= len(self.services):
            return problem
        index, rest = int(match.group(1)), problem.path[match.end() :]
        origin = _lookup(self.values[index], _tokens(rest), self.services[index])
        return Problem(origin.path + rest, problem.message, file=origin.file)


def _tokens(rest: str) -> Path:
    return tuple(
        m.group(1) if m.group(1) is not None else int(m.group(2)) for m in _TOKEN.finditer(rest)
    )


def _required_keys() -> dict[str, frozenset[str]]:
    """For each section of a service that is a dataclass: its keys without a default."""
    hints = get_type_hints(Service)
    out: dict[str, frozenset[str]] = {}
    for f in dataclasses.fields(Service):
        for hint in (hints[f.name], *get_args(hints[f.name])):
            if dataclasses.is_dataclass(hint):
                out[yaml_key(f)] = frozenset(
                    yaml_key(g)
                    for g in dataclasses.fields(hint)
                    if g.default is dataclasses.MISSING and g.default_factory is dataclasses.MISSING
                )
    return out


REQUIRED = _required_keys()


def _merge(
    base: Mapping[str, Any],
    base_origin: dict[Path, Origin],
    top: Mapping[str, Any],
    top_origin: Origin,
    path: Path = (),
) -> tuple[dict[str, Any], dict[Path, Origin]]:
    """Deep merge ``top`` over ``base``; the origin of every value in the result."""
    out: dict[str, Any] = {}
    origins: dict[Path, Origin] = {}
    for key in [*base, *(k for k in top if k not in base)]:
        here = (*path, key)
        if key not in top:
            out[key] = base[key]
            origins[here] = _lookup(base_origin, here, top_origin)
            origins.update({p: o for p, o in base_origin.items() if p[: len(here)] == here})
        elif key in base and isinstance(base[key], Mapping) and isinstance(top[key], Mapping):
            out[key], sub = _merge(base[key], base_origin, top[key], top_origin, here)
            origins.update(sub)
            origins[here] = top_origin
        else:
            out[key] = top[key]
            origins[here] = top_origin
    return out, origins


def _lookup(origins: Mapping[Path, Origin], path: Path, fallback: Origin) -> Origin:
    """The origin recorded for ``path`` or its nearest recorded parent."""
    for depth in range(len(path), 0, -1):
        found = origins.get(path[:depth])
        if found is not None:
            return found
    return fallback


def _origins_of(data: Mapping[str, Any], origin: Origin) -> dict[Path, Origin]:
    return {(key,): origin for key in data}


def _applicable(defaults: Mapping[str, Any], service: Mapping[str, Any]) -> dict[str, Any]:
    """The defaults that apply to ``service``: incomplete sections only where it has one."""
    out = {}
    for key, value in defaults.items():
        required = REQUIRED.get(key)
        complete = not isinstance(value, Mapping) or required is None or required <= set(value)
        if key in service or complete:
            out[key] = value
    return out


def _defaults(data: Mapping[str, Any], file: str, problems: list[Problem]) -> dict[str, Any]:
    value = data.get(DEFAULTS)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append(Problem(DEFAULTS, "expected a mapping of service keys", file=file))
        return {}
    if "name" in value:
        problems.append(Problem(f"{DEFAULTS}.name", "a name cannot be a default", file=file))
    return {str(k): v for k, v in value.items() if k != "name"}


def _included(
    inc: IncludedFile, main_defaults: dict[str, Any], problems: list[Problem]
) -> tuple[object, dict[str, Any], dict[Path, Origin]] | None:
    """(services, defaults, their origins) of one included file, or None if it is unusable."""
    if not isinstance(inc.data, Mapping):
        problems.append(Problem("", "an included file must be a mapping", file=inc.name))
        return None
    for key in inc.data:
        if key not in INCLUDED_KEYS:
            problems.append(
                Problem(
                    str(key),
                    "unknown key (an included file holds service_defaults and services)",
                    file=inc.name,
                )
            )
    own = _defaults(inc.data, inc.name, problems)
    defaults, origins = _merge(
        main_defaults,
        _origins_of(main_defaults, Origin("", DEFAULTS)),
        own,
        Origin(inc.name, DEFAULTS),
    )
    listed = inc.data.get("services")
    if listed is not None and not isinstance(listed, list):
        problems.append(Problem("services", "expected a list of services", file=inc.name))
        return None
    return listed, defaults, origins


def compose(
    main: Mapping[str, Any], included: Sequence[IncludedFile] = ()
) -> tuple[dict[str, Any], Provenance, list[Problem]]:
    """The main file's data with every service merged and included services appended."""
    problems: list[Problem] = []
    data = {k: v for k, v in main.items() if k not in (INCLUDE, DEFAULTS)}
    provenance = Provenance()
    listed = main.get("services")
    if listed is not None and not isinstance(listed, list):
        return data, provenance, problems  # the loader reports "services: expected a list"
    main_defaults = _defaults(main, "", problems)
    sources: list[tuple[str, object, dict[str, Any], dict[Path, Origin]]]
    sources = [("", listed, main_defaults, _origins_of(main_defaults, Origin("", DEFAULTS)))]
    for inc in included:
        found = _included(inc, main_defaults, problems)
        if found is not None:
            sources.append((inc.name, *found))
    services: list[object] = []
    for file, items, defaults, default_origins in sources:
        for j, written in enumerate(items if isinstance(items, list) else []):
            origin = Origin(file, f"services[{j}]")
            provenance.services.append(origin)
            service: object = written
            origins: dict[Path, Origin] = {}
            if isinstance(written, Mapping) and defaults:
                service, origins = _merge(
                    _applicable(defaults, written), default_origins, written, origin
                )
            services.append(service)
            provenance.values.append(origins)
    if listed is not None or len(sources) > 1:
        data["services"] = services
    return data, provenance, problems
