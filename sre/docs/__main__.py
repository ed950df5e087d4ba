"""``python -m sre.docs [--check] [--out docs/reference]``: write the generated reference pages,
or (``--check``) fail, naming them, when the committed ones differ from the code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from sre.docs import PAGES, render

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "docs" / "reference"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sre.docs",
        description="Generate docs/reference/config.md and metrics.md from the code.",
        epilog="Exit codes: 0 written (or current), 1 --check found stale pages.",
    )
    parser.add_argument("--check", action="store_true", help="compare only; write nothing")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="default: docs/reference")
    args = parser.parse_args(argv)
    stale = []
    for page in PAGES:
        path = args.out / f"{page}.md"
        text = render(page)
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print("stale (run `python -m sre.docs`): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
