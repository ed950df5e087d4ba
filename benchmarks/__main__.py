"""Run every benchmark (each ``benchmarks/<name>/`` package) and print its figures.

Usage: ``python -m benchmarks [name ...]``. Each benchmark runs in its own process so one
cannot skew another's memory or CPU figures.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(p.name for p in here.iterdir() if (p / "__main__.py").is_file())


def main(argv: list[str]) -> int:
    names = argv or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; have: {', '.join(available())}")
        return 2
    failed = []
    for name in names:
        print(f"\n=== benchmarks/{name} ===", flush=True)
        if subprocess.call([sys.executable, "-m", f"benchmarks.{name}"]) != 0:
            failed.append(name)
    if failed:
        print(f"\nbenchmarks that failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
