"""High availability benchmark: ``python -m benchmarks.ha [drivers|failover|webhooks|probes]``
(figures only, never asserts).

Everything real and on loopback: Debian's PostgreSQL (fsync on: a commit pays what it
pays on a real server), the daemon processes, the local Slack server, Debian's nginx as
probe targets.

1. the state store's driver: psycopg 3 against asyncpg on a webhook's transaction
   (``drivers.py``);
2. failover: leader SIGSTOP -> the new leader's first side effect, median of 5
   (``failover.py``);
3. webhooks: two replicas on PostgreSQL against one daemon on SQLite (``webhooks.py``);
4. probes: 30,000 targets at 15 s over three replicas (``probes.py``).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from benchmarks.ha import drivers, failover, probes, webhooks
from benchmarks.probes.helpers import find
from tests.helpers.postgres import PostgresCluster


def main() -> int:
    missing = [b for b in ("initdb", "nginx") if not (find(b) or _pg_binary(b))]
    if missing:
        print(f"not installed: {', '.join(missing)} (make bench installs them)")
        return 1
    os.environ.setdefault("PGUSER", "postgres")  # the daemons find their user there
    with (
        tempfile.TemporaryDirectory(prefix="bench-ha-") as tmp,
        PostgresCluster(durable=True) as pg,
    ):
        work = Path(tmp)
        parts = [
            ("1. driver, one webhook transaction (claim + outbox row)", drivers.report),
            ("2. failover", failover.report),
            ("3. webhooks", webhooks.report),
            ("4. probes", probes.report),
        ]
        wanted = sys.argv[1:] or ["drivers", "failover", "webhooks", "probes"]
        for n, (title, run) in enumerate(parts):
            if run.__module__.rsplit(".", 1)[-1] not in wanted:
                continue
            print(title, flush=True)
            state = pg.create_database(f"bench{n}")
            where = work / f"part{n}"
            where.mkdir()
            for line in run(where, state):
                print(line, flush=True)
    return 0


def _pg_binary(name: str) -> str | None:
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(versions[-1]) if versions else None


if __name__ == "__main__":
    sys.exit(main())
