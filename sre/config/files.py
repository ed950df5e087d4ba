"""Reading ``sre.yaml`` (and the files its ``include:`` names): YAML -> :class:`Config`, or
:class:`ConfigError` listing every problem."""

from __future__ import annotations

import glob
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from sre.config import yamlstream
from sre.config.compose import INCLUDE, IncludedFile, compose
from sre.config.loader import Loader, Problem
from sre.config.root import Config


class ConfigError(Exception):
    """Every problem found in a config file, each with its key path."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.problems)
        head = f"{self.source}: {count} problem{'s' if count != 1 else ''}"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])


def _dedupe(problems: list[Problem]) -> list[Problem]:
    """A bad default is reported once, not once for every service that inherits it."""
    seen: set[Problem] = set()
    out = []
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            out.append(problem)
    return out


def parse_config(
    data: Any, source: str = "sre.yaml", included: Sequence[IncludedFile] | None = None
) -> Config:
    """Validate parsed YAML; ``included`` are the files its ``include:`` matched (None: the
    data was not read from a file, so there is nothing to include relative to)."""
    if not isinstance(data, dict):
        raise ConfigError(source, [Problem("", "the file must be a mapping of sections")])
    problems: list[Problem] = []
    if included is None and data.get(INCLUDE):
        problems.append(Problem(INCLUDE, "only a config read from a file can include others"))
    merged, provenance, found = compose(data, included or ())
    problems += found
    loader = Loader()
    config = loader.load(Config, merged)
    problems += [provenance.locate(p) for p in loader.problems]
    if problems:
        raise ConfigError(source, _dedupe(problems))
    return config


def _read_yaml(path: Path, shown: str) -> tuple[Any, Problem | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        return None, Problem("", f"cannot read: {err.strerror}", file=shown)
    except UnicodeDecodeError as err:
        return None, Problem("", f"not UTF-8 text (byte {err.start})", file=shown)
    try:
        # libyaml's parser, objects built from its events: a config with thousands of
        # probes loads in a third of the time and a fraction of the memory (yamlstream.py).
        return yamlstream.load(text), None
    except yaml.YAMLError as err:  # (the loader turns PyYAML's own slips into these)
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        reason = getattr(err, "problem", None) or str(err)
        return None, Problem("", f"{where}not valid YAML: {reason}", file=shown)


def _include_patterns(data: dict[str, Any]) -> tuple[list[str], list[Problem]]:
    patterns = data.get(INCLUDE)
    if patterns is None:
        return [], []
    if not isinstance(patterns, list) or not all(isinstance(p, str) and p for p in patterns):
        return [], [Problem(INCLUDE, "expected a list of file patterns, e.g. [services/*.yaml]")]
    return patterns, []


def included_paths(
    path: Path, data: dict[str, Any]
) -> tuple[list[tuple[str, Path]], list[Problem]]:
    """(shown name, path) of every file ``include:`` matches: each pattern globbed relative
    to ``path``'s directory, sorted, each file once, ``path`` itself never."""
    patterns, problems = _include_patterns(data)
    base = path.parent
    found: list[tuple[str, Path]] = []
    seen = {path.resolve()}
    for i, pattern in enumerate(patterns):
        matches = sorted(glob.glob(str(base / pattern), recursive=True))
        files = [Path(m) for m in matches if Path(m).is_file()]
        if not files:
            problems.append(Problem(f"{INCLUDE}[{i}]", f"{pattern!r} matches no file"))
        for file in files:
            if file.resolve() in seen:
                continue
            seen.add(file.resolve())
            try:
                shown = str(file.relative_to(base))
            except ValueError:
                shown = str(file)
            found.append((shown, file))
    return found, problems


def _read_main(path: Path) -> dict[str, Any]:
    data, problem = _read_yaml(path, "")
    if problem is not None:
        raise ConfigError(str(path), [problem])
    if not isinstance(data, dict):
        raise ConfigError(str(path), [Problem("", "the file must be a mapping of sections")])
    return data


def load_config(path: str | Path) -> Config:
    """Read and validate ``sre.yaml`` and the files it includes; raise :class:`ConfigError`
    listing every problem."""
    path = Path(path)
    data = _read_main(path)
    paths, problems = included_paths(path, data)
    included = []
    for shown, file in paths:
        parsed, problem = _read_yaml(file, shown)
        if problem is not None:
            problems.append(problem)
        else:
            included.append(IncludedFile(shown, parsed))
    try:
        config = parse_config(data, str(path), included)
    except ConfigError as err:
        raise ConfigError(str(path), problems + err.problems) from None
    if problems:
        raise ConfigError(str(path), problems)
    return config


def config_sha256(path: str | Path) -> str:
    """sha256 of the config file; with ``include:``, of it and every included file."""
    path = Path(path)
    body = path.read_bytes()
    try:
        data = _read_main(path)
    except ConfigError:
        return hashlib.sha256(body).hexdigest()
    paths, _ = included_paths(path, data)
    if not paths:
        return hashlib.sha256(body).hexdigest()
    digest = hashlib.sha256(body)
    for shown, file in paths:
        digest.update(b"\0" + shown.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()
