"""The restore test's database side: Debian's createdb / pg_restore / psql / dropdb.

A restore creates a scratch database on the ``restore_test`` DSN's server, restores a dump
into it (custom and tar format through ``pg_restore``, plain SQL through ``psql``; told
apart by their magic bytes, gzip unwrapped first), runs each check query and drops the
database afterwards, also when something failed. Scratch databases left by a killed run
(same prefix) are dropped before the next one starts.

The DSN (a ``postgresql://`` URI or ``key=value`` string) is split into libpq environment
variables (``PGHOST``, ``PGPASSWORD``...) for the child processes, so the password is never
on a command line, and every message is scrubbed of it before it is logged.
"""

from __future__ import annotations

import asyncio
import glob
import gzip
import os
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

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
        parts = urlsplit(dsn)
        params: dict[str, str] = {}
        if parts.username:
            params["user"] = unquote(parts.username)
        if parts.password:
            params["password"] = unquote(parts.password)
        if parts.hostname:
            params["host"] = unquote(parts.hostname)
        if parts.port:
            params["port"] = str(parts.port)
        if parts.path.strip("/"):
            params["dbname"] = unquote(parts.path.lstrip("/"))
        params.update(parse_qsl(parts.query))
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
        self._secret = params.get("password")
        self.maintenance_db = params.pop("dbname", "") or "postgres"
        base = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        self.env = {**base, **{ENV_OF[k]: v for k, v in params.items()}}
        self.timeout = timeout

    def scrub(self, text: str) -> str:
        text = " ".join(text.split())[:500]
        return text.replace(self._secret, "***") if self._secret else text

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
                await self._run(
                    "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", name, "-f", str(dump),
                    timeout=self.timeout, capture=False,
                )  # fmt: skip
        except RestoreError as err:
            return RestoreResult(False, time.perf_counter() - started, fmt, str(err))
        duration = time.perf_counter() - started
        results = [await self._check(name, sql) for sql in checks]
        return RestoreResult(True, duration, fmt, None, results)

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
