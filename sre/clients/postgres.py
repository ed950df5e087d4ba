"""The restore test's database side: Debian's createdb / pg_restore / psql / dropdb.

A restore creates a scratch database on the ``restore_test`` DSN's server, restores a dump
into it (custom and tar format through ``pg_restore``, plain SQL through ``psql``; told
apart by their magic bytes, gzip unwrapped first), runs each check query and drops the
database afterwards, also when something failed. Scratch databases left by a killed run
(same prefix) are dropped before the next one starts.

A plain-SQL dump is run by ``psql``, which obeys backslash meta-commands in the file
(``\\!`` runs a shell command, ``\\connect`` switches database). So a plain dump is scanned
first and refused if a line outside ``COPY ... FROM stdin`` data starts with a backslash or
it creates a database (``pg_dump --create`` dumps are not supported); pg_dump's own
``\\restrict`` / ``\\unrestrict`` lines are dropped. Where psql knows ``\\restrict``
(15.14+, 16.10+, 17.6+), it is also put in restricted mode with a random key before the
file runs, so a meta-command the line scan cannot see (mid-line) is refused by psql itself.

The DSN (a ``postgresql://`` URI or ``key=value`` string) is split into libpq environment
variables (``PGHOST``, ``PGPASSWORD``...) for the child processes, so the password is never
on a command line, and every message is scrubbed of it before it is logged. A DSN that
does not parse gets a fixed message that never quotes it.
"""

from __future__ import annotations

import asyncio
import glob
import gzip
import os
import re
import secrets
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit

ENV_OF = {
    "host": "PGHOST",
    "hostaddr": "PGHOSTADDR",
    "port": "PGPORT",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "dbname": "PGDATABASE",
    "passfile": "PGPASSFILE",
    "service": "PGSERVICE",
    "options": "PGOPTIONS",
    "application_name": "PGAPPNAME",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
    "channel_binding": "PGCHANNELBINDING",
    "gssencmode": "PGGSSENCMODE",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
}
_KV = re.compile(r"\s*(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S*)")


class RestoreError(Exception):
    """A step of the restore test failed; the message is safe to log and show."""


def parse_dsn(dsn: str) -> dict[str, str]:
    """libpq connection parameters of a URI or ``key=value`` DSN (ValueError if bad)."""
    dsn = dsn.strip()
    if dsn.startswith(("postgresql://", "postgres://")):
        try:
            params = _parse_uri(dsn)
        except ValueError:  # urllib's messages quote the URI's parts: the password too
            raise ValueError(_BAD_URI) from None
    else:
        params = {}
        rest = dsn
        while rest.strip():
            match = _KV.match(rest)
            if not match:
                raise ValueError("is not a postgresql:// URI or a key=value connection string")
            value = match.group(2)
            if value.startswith("'"):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            params[match.group(1)] = value
            rest = rest[match.end() :]
    unknown = sorted(set(params) - set(ENV_OF))
    if unknown:
        raise ValueError(f"unsupported connection parameter(s): {', '.join(unknown)}")
    return params


_BAD_URI = "is not a valid postgresql:// URI (percent-encode / # ? @ in the password)"


def _parse_uri(dsn: str) -> dict[str, str]:
    parts = urlsplit(dsn)
    params: dict[str, str] = {}
    if parts.username:
        params["user"] = unquote(parts.username)
    if parts.password:
        params["password"] = unquote(parts.password)
    if parts.hostname:
        params["host"] = unquote(parts.hostname)
    if parts.port:  # raises ValueError naming whatever sat where the port should be
        params["port"] = str(parts.port)
    path = parts.path.lstrip("/")
    if (
        "/" in path or "@" in path or parts.fragment
    ):  # an unencoded / in the password cut the URI short
        raise ValueError(_BAD_URI)
    if path:
        params["dbname"] = unquote(path)
    params.update(parse_qsl(parts.query, strict_parsing=bool(parts.query)))
    return params


def find_binary(name: str) -> str:
    """``name`` from PATH (Debian's pg_wrapper), else the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if not found:
        raise RestoreError(f"{name} is not installed (Debian package postgresql-client)")
    return found


def dump_format(path: Path) -> str:
    """``custom`` | ``tar`` | ``gzip`` | ``plain`` from the file's first bytes."""
    with path.open("rb") as f:
        head = f.read(512)
    if head.startswith(b"PGDMP"):
        return "custom"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    return "plain"


@dataclass(frozen=True)
class CheckResult:
    sql: str
    value: float | None
    error: str | None = None


@dataclass(frozen=True)
class RestoreResult:
    restored: bool
    duration_seconds: float | None  # the restore itself (RTO), None if it did not run
    format: str | None = None
    error: str | None = None
    checks: list[CheckResult] = field(default_factory=list)


class PostgresRestorer:
    def __init__(self, dsn: str, *, timeout: float = 3600.0) -> None:
        params = parse_dsn(dsn)
        password = params.get("password")
        # longest first: the DSN contains the password, so it must go before it
        self._secrets = sorted(
            {x for x in (dsn.strip(), password, password and quote(password, safe="")) if x},
            key=len,
            reverse=True,
        )
        self.maintenance_db = params.pop("dbname", "") or "postgres"
        base = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        self.env = {**base, **{ENV_OF[k]: v for k, v in params.items()}}
        self.timeout = timeout
        self._restrict: bool | None = None

    def scrub(self, text: str) -> str:
        text = " ".join(text.split())
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text[:500]

    async def _run(self, *argv: str, timeout: float, capture: bool = True) -> str:
        """Run one client program; its stdout, or RestoreError with its stderr."""
        proc = await asyncio.create_subprocess_exec(
            find_binary(argv[0]),
            *argv[1:],
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if capture else asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=self.env,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except BaseException:  # time-out or cancelled: never leave the child running
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            raise
        if proc.returncode != 0:
            detail = self.scrub(err.decode("utf-8", "replace")) or f"exit {proc.returncode}"
            raise RestoreError(f"{argv[0]} failed: {detail}")
        return (out or b"").decode("utf-8", "replace")

    async def databases(self, prefix: str) -> list[str]:
        out = await self._run(
            "psql", "-X", "-A", "-t", "-d", self.maintenance_db, "-c",
            "SELECT datname FROM pg_database", timeout=60,
        )  # fmt: skip
        # ``<prefix><digits>`` only: backup "pg" must not take "pg-x"'s (sre_restore_pg_x_1)
        return sorted(n for n in out.split() if n.startswith(prefix) and n[len(prefix) :].isdigit())

    async def drop(self, name: str) -> None:
        await self._run(
            "dropdb", "--if-exists", "--force", f"--maintenance-db={self.maintenance_db}", name,
            timeout=120,
        )  # fmt: skip

    async def restore_test(
        self, dump: Path, *, prefix: str, suffix: str, checks: Sequence[str]
    ) -> RestoreResult:
        """Restore ``dump`` into ``<prefix><suffix>``, run ``checks``, always drop it."""
        name = f"{prefix}{suffix}"
        for stale in await self.databases(prefix):
            await self.drop(stale)  # left by a run that was killed
        await self._run("createdb", f"--maintenance-db={self.maintenance_db}", name, timeout=120)
        try:
            async with asyncio.timeout(self.timeout):
                return await self._restore_and_check(dump, name, checks)
        except TimeoutError:
            return RestoreResult(False, None, error=f"restore test took over {self.timeout:g}s")
        finally:
            await asyncio.shield(self.drop(name))

    async def _restore_and_check(
        self, dump: Path, name: str, checks: Sequence[str]
    ) -> RestoreResult:
        fmt = dump_format(dump)
        if fmt == "gzip":
            dump = await asyncio.to_thread(_gunzip, dump)
            fmt = dump_format(dump)
        started = time.perf_counter()
        try:
            if fmt in ("custom", "tar"):
                await self._run(
                    "pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
                    f"--dbname={name}", str(dump), timeout=self.timeout, capture=False,
                )  # fmt: skip
            else:
                safe = dump.with_name(dump.name + ".checked")
                await asyncio.to_thread(check_plain_dump, dump, safe)
                restrict = []
                if await self._psql_can_restrict():
                    restrict = ["-c", f"\\restrict {secrets.token_hex(16)}"]
                await self._run(
                    "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", name, *restrict,
                    "-f", str(safe), timeout=self.timeout, capture=False,
                )  # fmt: skip
        except RestoreError as err:
            return RestoreResult(False, time.perf_counter() - started, fmt, str(err))
        duration = time.perf_counter() - started
        results = [await self._check(name, sql) for sql in checks]
        return RestoreResult(True, duration, fmt, None, results)

    async def _psql_can_restrict(self) -> bool:
        if self._restrict is None:
            self._restrict = psql_has_restrict(await self._run("psql", "--version", timeout=30))
        return self._restrict

    async def _check(self, name: str, sql: str) -> CheckResult:
        try:
            out = await self._run(
                "psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d", name, "-c", sql,
                timeout=self.timeout,
            )  # fmt: skip
        except RestoreError as err:
            return CheckResult(sql, None, str(err))
        first = out.strip().splitlines()[0].split("|")[0].strip() if out.strip() else ""
        if first in ("t", "f"):
            return CheckResult(sql, 1.0 if first == "t" else 0.0)
        try:
            return CheckResult(sql, float(first))
        except ValueError:
            return CheckResult(sql, None, f"returned {first[:40]!r}, not a number")


def _gunzip(path: Path) -> Path:
    out = path.with_name(path.name + ".raw")
    with gzip.open(path, "rb") as src, out.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return out


# psql's \restrict arrived in these minor releases (and in every release from 18 on)
_RESTRICT_SINCE = {13: 22, 14: 19, 15: 14, 16: 10, 17: 6}
_COPY_FROM_STDIN = re.compile(rb"^\s*COPY\b.*\bFROM\s+stdin\b.*;\s*$", re.IGNORECASE)
_CREATE_DATABASE = re.compile(rb"\bCREATE\s+DATABASE\b", re.IGNORECASE)
_PG_DUMP_RESTRICT = re.compile(rb"^\\(un)?restrict(\s|$)")
_META = re.compile(rb"\\[A-Za-z!?.]{0,12}")


def psql_has_restrict(version: str) -> bool:
    """Does ``psql --version`` name a release that knows ``\\restrict``?"""
    match = re.search(r"(\d+)\.(\d+)", version)
    if not match:
        return False
    major, minor = int(match.group(1)), int(match.group(2))
    return major >= 18 or minor >= _RESTRICT_SINCE.get(major, 10**6)


def check_plain_dump(src: Path, dst: Path) -> None:
    """Copy a plain-SQL dump to ``dst`` for psql, or refuse it (RestoreError).

    Refused: a line outside ``COPY ... FROM stdin`` data that starts with a backslash (a
    psql meta-command: ``\\!`` runs a shell command, ``\\connect`` leaves the scratch
    database) and ``CREATE DATABASE`` (``pg_dump --create`` dumps: they restore outside the
    scratch database, which is the only one dropped). pg_dump's own ``\\restrict`` /
    ``\\unrestrict`` lines are left out of the copy.
    """
    in_copy = False
    with src.open("rb") as fin, dst.open("wb") as out:
        for number, line in enumerate(fin, 1):
            if in_copy:  # data lines go to COPY verbatim, up to the \. terminator
                in_copy = line.rstrip(b"\r\n") != b"\\."
                out.write(line)
                continue
            stripped = line.strip()
            if _PG_DUMP_RESTRICT.match(stripped):
                continue
            if stripped.startswith(b"\\"):
                meta = _META.match(stripped)
                what = meta.group(0).decode("ascii", "replace") if meta else "\\"
                raise RestoreError(
                    f"plain dump refused: line {number} is a psql meta-command ({what}); "
                    "only SQL and COPY data are run"
                )
            if _CREATE_DATABASE.search(line):
                raise RestoreError(
                    f"plain dump refused: line {number} creates a database "
                    "(pg_dump --create dumps are not supported)"
                )
            in_copy = bool(_COPY_FROM_STDIN.match(line))
            out.write(line)
