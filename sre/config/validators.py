"""Checks for single config values: each returns an error message, or ``None`` when fine.

A field names its check in its metadata (``field(metadata={"check": url})``); the loader
runs it on the converted value and reports the message under the field's key path.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse

from sre.config.durations import Duration

NAME_RE = re.compile(r"^[a-z][a-z0-9-]*$")


def dns_name(value: str) -> str | None:
    ok = NAME_RE.fullmatch(value)
    return None if ok else f"{value!r} must be lowercase letters, digits and '-' (a DNS label)"


def url(value: str) -> str | None:
    parsed = urlparse(value)
    if parsed.scheme in ("http", "https") and parsed.netloc:
        return None
    return f"{value!r} is not an http(s) URL"


def probe_url(value: str) -> str | None:
    parsed = urlparse(value)
    if parsed.scheme in ("http", "https") and parsed.netloc:
        return None
    if parsed.scheme == "tcp" and parsed.hostname and parsed.port:
        return None
    return f"{value!r} must be an http(s):// URL or tcp://host:port"


def env_name(value: str) -> str | None:
    if re.fullmatch(r"[A-Z_][A-Z0-9_]*", value):
        return None
    return f"{value!r} is not an environment variable name (the secret itself never goes here)"


def cron(value: str) -> str | None:
    fields = value.split()
    if len(fields) != 5:
        return f"{value!r} is not a 5-field cron expression (minute hour day month weekday)"
    try:
        from apscheduler.triggers.cron import CronTrigger

        CronTrigger.from_crontab(value, timezone="UTC")
    except ValueError as err:
        return f"{value!r} is not a valid cron expression: {err}"
    return None


def percent(value: Decimal) -> str | None:
    if value.is_finite() and Decimal(0) < value < Decimal(100):
        return None
    return "must be a percentage below 100, e.g. 99.9"


def listen(value: str) -> str | None:
    host, sep, port = value.rpartition(":")
    if sep and host and port.isdigit() and 0 < int(port) < 65536:
        return None
    return f"{value!r} must be host:port, e.g. 0.0.0.0:9877"


POSTGRES_SCHEMES = ("postgresql://", "postgres://")
# libpq URI parameters that carry a credential: never in sre.yaml (PGPASSWORD, PGPASSFILE).
_SECRET_PARAMS = ("password", "sslpassword")


def state_url(value: str) -> str | None:
    if value.startswith("sqlite:///") and len(value) > len("sqlite:///"):
        return None
    if value.startswith(POSTGRES_SCHEMES):
        return _postgres_url(value)
    return f"{value!r} must be sqlite:///path/to/state.db or postgresql://HOST[:PORT]/DBNAME"


def _postgres_url(value: str) -> str | None:
    """``postgresql://HOST[:PORT]/DBNAME[?libpq-parameters]``, credentials elsewhere."""
    rest = value.split("://", 1)[1]
    authority, _, tail = rest.partition("/")
    database, _, query = tail.partition("?")
    if "@" in authority:
        # Never echo the value back: it may hold a password.
        return (
            "must not name a user or password: libpq reads them from PGUSER and PGPASSWORD "
            "(or PGPASSFILE)"
        )
    params = {p.partition("=")[0].lower() for p in query.split("&") if p}
    if params & set(_SECRET_PARAMS):
        return "must not carry a password parameter: use PGPASSWORD or PGPASSFILE"
    if not authority.strip(":") or not database:
        return f"{value!r} must be postgresql://HOST[:PORT]/DBNAME"
    return None


def regex(value: str) -> str | None:
    try:
        re.compile(value)
    except re.error as err:
        return f"{value!r} is not a valid regular expression: {err}"
    return None


def positive(value: float | int | Duration | Decimal) -> str | None:
    number = value.milliseconds if isinstance(value, Duration) else value
    return None if number > 0 else "must be greater than zero"


def ratio(value: float) -> str | None:
    return None if 0 < value < 1 else "must be a fraction between 0 and 1 (e.g. 0.05 for 5%)"


def non_empty(value: str | tuple[Any, ...]) -> str | None:
    return None if value else "must not be empty"
