"""Redaction: what a command printed, or the arguments it ran with, before they reach the
store, the log, Slack or the API.

Two layers: every secret the config names (the value of every ``*_env`` variable it
points at, and the well-known credential variables of libpq and AWS) is replaced wherever
it appears; then anything that *looks* like a credential is, too: ``password=...``,
``token: ...``, ``Authorization: Bearer ...``, Slack tokens, AWS access key ids, and the
password in ``scheme://user:password@host``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

MASK = "[redacted]"
MIN_SECRET = 4  # shorter values would mask ordinary words
WELL_KNOWN = ("PGPASSWORD", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # key=value and key: value for the usual credential words (flags included: --password=x)
    (
        re.compile(
            r"(?i)((?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|"
            r"credentials?)[\"']?\s*[=:]\s*[\"']?)[^\s\"',;]+"
        ),
        r"\1" + MASK,
    ),
    (re.compile(r"(?i)\b(authorization\s*[=:]\s*)(\w+\s+)?\S+"), r"\1\2" + MASK),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + MASK),
    (re.compile(r"\bxox[a-z]-[A-Za-z0-9-]{6,}"), MASK),
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), MASK),
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), r"\1" + MASK + "@"),
)


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret containing another is masked whole.
        found = {s for s in secrets if s and len(s) >= MIN_SECRET}
        self._secrets = sorted(found, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, MASK)
        for pattern, replacement in _PATTERNS:
            value = pattern.sub(replacement, value)
        return value

    def argv(self, argv: Sequence[str]) -> list[str]:
        return [self.text(arg) for arg in argv]

    def data(self, value: Any) -> Any:
        """Every string inside ``value`` (dicts, lists), redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value


def env_names(config: Any) -> list[str]:
    """Every environment variable a config names in a ``*_env`` key, at any depth."""
    names: list[str] = []

    def walk(value: Any) -> None:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            for field in dataclasses.fields(value):
                item = getattr(value, field.name)
                if field.name.endswith("_env") and isinstance(item, str):
                    names.append(item)
                else:
                    walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    walk(config)
    return names


def configured(config: Any, env: Mapping[str, str]) -> Redactor:
    """A redactor for every secret ``config`` points at, as set in ``env``."""
    names = [*env_names(config), *WELL_KNOWN]
    return Redactor(env.get(name, "") for name in names)
