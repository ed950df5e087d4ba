"""``python -m sre.daemon audit``: list the rollback audit records from the state store.

Reads the store named by ``daemon.state`` in the config (safe while the daemon runs: the
store is SQLite in WAL mode). Newest first, as ``GET /rollbacks`` answers.

Exit codes: 0 listed (maybe nothing), 1 no state store at that path, 2 bad config/arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from sre.config import ConfigError, load_config
from sre.features.rollback.audit import MAX_LIMIT, format_line, list_records
from sre.runtime.store import StoreError, open_store


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sre.daemon audit",
        description="List rollback decisions and results recorded by the SRE daemon.",
    )
    parser.add_argument(
        "--config", default="sre.yaml", help="path to sre.yaml (default: %(default)s)"
    )
    parser.add_argument("--service", help="only this service")
    parser.add_argument("--limit", type=int, default=20, help="at most N records (default: 20)")
    parser.add_argument("--json", action="store_true", help="print a JSON list")
    args = parser.parse_args(argv)
    if not 1 <= args.limit <= MAX_LIMIT:
        parser.error(f"--limit must be from 1 to {MAX_LIMIT}")
    return args


def main(argv: list[str]) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # `... | head`: the reader left, that is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        cfg = load_config(args.config)
    except ConfigError as err:
        print(err.render(), file=sys.stderr)
        return 2
    path = Path(cfg.daemon.state_path)
    if not cfg.daemon.shared_state and not path.exists():
        print(f"no state store at {path} (daemon.state); nothing recorded yet", file=sys.stderr)
        return 1
    try:
        store = open_store(cfg.daemon)
    except StoreError as err:
        print(str(err), file=sys.stderr)
        return 1
    try:
        records = list_records(store, args.service, args.limit)
    finally:
        store.close()
    if args.json:
        print(json.dumps(records, indent=2, sort_keys=True))
        return 0
    if not records:
        print("no rollback records" + (f" for {args.service}" if args.service else ""))
        return 0
    print(
        f"{'time':<20}  {'service':<20} {'decision':<16} {'trigger':<10} "
        f"{'from->to':<10} {'by':<12} reason"
    )
    for record in records:
        print(format_line(record))
    return 0
