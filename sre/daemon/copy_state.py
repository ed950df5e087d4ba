"""``python -m sre.daemon copy-state --from sqlite:///PATH [--config sre.yaml]``: move a single
daemon's SQLite state into the PostgreSQL database ``daemon.state`` names (docs/ha.md).

Everything comes along (pending Slack messages, alert groups and their messages, dedup
keys, rollback claims and cooldowns, the audit trail, cached answers), so the replicas
carry on where the single daemon stopped: no alert posted twice, no rollback repeated.

The daemon must be stopped (the SQLite file is opened with its lock), and the database
must hold no state yet (the copy is one transaction: all of it or nothing). The schema is
created by each component's own migrations, then rows are copied column by column, and
the id sequences are moved past the copied ids.

Exit codes: 0 copied, 1 cannot (a store, a non-empty database, an unknown component), 2
bad config or usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sre.config import ConfigError, load_config
from sre.features.alerts.tables import MIGRATIONS as ALERTS
from sre.features.backups.state import MIGRATIONS as BACKUPS
from sre.features.probes.results import COMPONENT as PROBES_COMPONENT
from sre.features.probes.results import MIGRATIONS as PROBES
from sre.features.rollback.state import COMPONENT as ROLLBACK_COMPONENT
from sre.features.rollback.state import MIGRATIONS as ROLLBACK
from sre.runtime.ha.tables import COMPONENT as HA_COMPONENT
from sre.runtime.ha.tables import MIGRATIONS as HA
from sre.runtime.store import Migration, Store, StoreError, open_store
from sre.runtime.store.sqlite import open_sqlite

COMPONENTS: dict[str, Sequence[Migration]] = {
    "alerts": ALERTS,
    "backups": BACKUPS,
    PROBES_COMPONENT: PROBES,
    ROLLBACK_COMPONENT: ROLLBACK,
    HA_COMPONENT: HA,
}
NOT_COPIED = {"schema_versions", "ha_replicas", "ha_lease"}  # the new store's own
STATE_TABLES = ("outbox", "audit", "idempotency")  # any row here: the database is in use
BATCH = 200


class CopyError(Exception):
    """Why the copy cannot be made (nothing was written)."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sre.daemon copy-state",
        description="Copy a stopped daemon's SQLite state into the PostgreSQL database "
        "that daemon.state names.",
    )
    parser.add_argument("--config", default="sre.yaml", help="default: %(default)s")
    parser.add_argument(
        "--from", dest="source", required=True, help="the old state: sqlite:///path/to/state.db"
    )
    return parser.parse_args(argv)


def _tables(source: Store) -> list[str]:
    with source.transaction() as tx:
        rows = tx.all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    return [str(r["name"]) for r in rows if r["name"] not in NOT_COPIED]


def copy_state(source: Store, target: Store) -> dict[str, int]:
    """Every table of ``source`` into ``target`` (PostgreSQL, empty): rows per table."""
    with source.transaction() as tx:
        versions = {str(r["component"]): int(r["version"]) for r in tx.all(
            "SELECT component, version FROM schema_versions WHERE component <> 'core'"
        )}  # fmt: skip
    unknown = sorted(set(versions) - set(COMPONENTS))
    if unknown:
        raise CopyError(f"the old state has components this daemon does not know: {unknown}")
    for component, version in sorted(versions.items()):
        if version > len(COMPONENTS[component]):
            raise CopyError(f"the old state's {component} schema is newer than this daemon's")
        target.migrate(component, COMPONENTS[component])
    with target.transaction() as tx:
        used = [t for t in STATE_TABLES if tx.scalar(f"SELECT count(*) FROM {t}")]
    if used:
        raise CopyError(f"{target.where} already holds state ({', '.join(used)}): not copied")
    copied: dict[str, int] = {}
    with target.transaction() as tx:
        for table in _tables(source):
            wanted = set(_columns_pg(tx, table))
            with source.transaction() as src:
                rows = src.all(f"SELECT * FROM {table}")
            columns = [c for c in (rows[0] if rows else {}) if c in wanted]
            for start in range(0, len(rows), BATCH):
                chunk = rows[start : start + BATCH]
                values = ", ".join(
                    "(" + ", ".join(f":{c}_{i}" for c in columns) + ")" for i in range(len(chunk))
                )
                params: dict[str, Any] = {
                    f"{c}_{i}": row[c] for i, row in enumerate(chunk) for c in columns
                }
                tx.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}", params)
            if "id" in wanted:  # new rows continue after the copied ids
                tx.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"GREATEST((SELECT max(id) FROM {table}), 1))"
                )
            copied[table] = len(rows)
    return copied


def _columns_pg(tx: Any, table: str) -> list[str]:
    rows = tx.all(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = :t AND table_schema = current_schema()",
        {"t": table},
    )
    if not rows:
        raise CopyError(f"table {table} has no counterpart in the new store (no migration)")
    return [str(r["column_name"]) for r in rows]


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        cfg = load_config(args.config)
    except ConfigError as err:
        print(err.render(), file=sys.stderr)
        return 2
    if not cfg.daemon.shared_state:
        print("daemon.state must name the PostgreSQL database to copy into", file=sys.stderr)
        return 2
    if not args.source.startswith("sqlite:///"):
        print(f"--from {args.source!r}: expected sqlite:///path/to/state.db", file=sys.stderr)
        return 2
    path = args.source.removeprefix("sqlite:///")
    path = path if path.startswith(("./", "../")) else "/" + path.lstrip("/")
    if not Path(path).is_file():
        print(f"no state store at {path}", file=sys.stderr)
        return 1
    try:
        source = open_sqlite(path, exclusive=True)  # refused while a daemon runs on it
    except StoreError as err:
        print(str(err), file=sys.stderr)
        return 1
    try:
        target = open_store(cfg.daemon)
    except StoreError as err:
        source.close()
        print(str(err), file=sys.stderr)
        return 1
    try:
        copied = copy_state(source, target)
    except (CopyError, StoreError) as err:
        print(f"not copied: {err}", file=sys.stderr)
        return 1
    finally:
        source.close()
        target.close()
    for table, count in copied.items():
        print(f"{table}: {count} row(s)")
    print(f"copied {path} into {target.where}")
    return 0
