"""A throwaway PostgreSQL cluster for tests, made with Debian's initdb / pg_ctl.

PostgreSQL refuses to run as root, and CI runs as root: there the cluster is created and
run as the ``postgres`` user (``runuser``). It listens on 127.0.0.1 on a free port with
``trust`` auth, in a temporary directory that is removed afterwards.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from tests.helpers import find_binary, free_port


class PostgresCluster:
    """``durable``: fsync on (benchmarks measure what a real server pays for a commit);
    tests run without it."""

    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="sre-pg-"))
        self.data = self.dir / "data"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self._as_user, *argv], check=True, capture_output=True, text=True, timeout=120
        )

    def start(self) -> PostgresCluster:
        self._init()
        self._start()
        return self

    def _init(self) -> None:
        self._run(
            find_binary("initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        )

    def _start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} "
            f"-c fsync={'on' if self.durable else 'off'} -c max_connections=200"
        )
        self._run(
            find_binary("pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.dir / "log"),
            "-w",
            "start",
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [find_binary("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True,
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL did not start: {(self.dir / 'log').read_text()}")

    def psql(self, sql: str, database: str = "postgres") -> str:
        done = subprocess.run(
            [find_binary("psql"), self.dsn(database), "-v", "ON_ERROR_STOP=1", "-Atc", sql],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.stdout.strip()

    _names = itertools.count(1)

    def create_database(self, prefix: str = "sre") -> str:
        """A new empty database; its ``postgresql://`` URL (no user: libpq's PGUSER)."""
        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://127.0.0.1:{self.port}/{name}"

    def pg_ctl(self, action: str) -> None:
        """``pg_ctl stop`` (fast: connections are cut) or ``start`` on the same port."""
        if action == "start":
            self._start()
            return
        self._run(find_binary("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", action)

    def stop(self) -> None:
        if self.data.exists():
            subprocess.run(
                [
                    *self._as_user,
                    find_binary("pg_ctl"),
                    "-D",
                    str(self.data),
                    "-m",
                    "immediate",
                    "stop",
                ],
                capture_output=True,
                check=False,
                timeout=60,
            )
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
