"""``python -m sre.daemon``: run the SRE daemon in the foreground.

Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT), 1 when it cannot start (state store
unusable, port taken), 2 on a bad config (every problem listed, with key paths).

Subcommands: ``audit`` (the rollback audit trail, ``audit_cli.py``) and ``verify`` (the
deploy gate, ``verify_cli.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from sre.config import ConfigError, config_sha256, load_config
from sre.daemon.logs import FORMATS, LEVELS, setup_logging
from sre.runtime.store import StoreError

log = logging.getLogger("sre.daemon")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sre.daemon",
        description="Run the SRE daemon (probes, jobs, webhooks) until SIGTERM/SIGINT.",
        epilog="Exit codes: 0 after a clean shutdown, 1 when it cannot start, 2 on a bad "
        "config. Also: `python -m sre.daemon audit --help` lists the rollback audit trail; "
        "`python -m sre.daemon verify --help` is the deploy gate; "
        "`python -m sre.daemon copy-state --help` moves SQLite state to PostgreSQL.",
    )
    parser.add_argument(
        "--config", default="sre.yaml", help="path to sre.yaml (default: %(default)s)"
    )
    parser.add_argument(
        "--log-format", choices=FORMATS, default="text", help="text (default) or json lines"
    )
    parser.add_argument("--log-level", choices=LEVELS, default="info", help="default: info")
    parser.add_argument(
        "--insecure-dev",
        action="store_true",
        help="local runs only: accept Alertmanager webhooks without the bearer token",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    rest = sys.argv[1:] if argv is None else argv
    if rest[:1] == ["audit"]:  # `python -m sre.daemon audit ...`: list rollback records
        from sre.daemon.audit_cli import main as audit_main

        return audit_main(rest[1:])
    if rest[:1] == ["verify"]:  # `python -m sre.daemon verify ...`: the deploy gate
        from sre.daemon.verify_cli import main as verify_main

        return verify_main(rest[1:])
    if rest[:1] == ["copy-state"]:  # SQLite -> PostgreSQL, for several replicas (docs/ha.md)
        from sre.daemon.copy_state import main as copy_main

        return copy_main(rest[1:])
    args = parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    try:
        cfg = load_config(args.config)
    except ConfigError as err:
        print(err.render(), file=sys.stderr)
        return 2
    from sre.daemon.process import Daemon

    try:
        daemon = Daemon(
            cfg, config_sha256(args.config), insecure_dev=args.insecure_dev, config_path=args.config
        )
    except StoreError as err:
        log.error("%s", err)
        return 1
    return asyncio.run(daemon.serve())


if __name__ == "__main__":
    sys.exit(main())
