"""Render benchmark: ``python -m benchmarks.render`` (figures only, never asserts).

The median wall time of rendering the whole repository (every dashboard and rule group
built from the code, the Kubernetes objects, the lint, the files written) without
promtool, over several runs:

1. in-process: ``sre.render.__main__.run(...)`` called as a function (the first run, which
   imports grafanalib and the content modules, is reported on its own);
2. the full command as a user runs it: ``python -m sre.render --skip-promtool`` in a
   subprocess (interpreter start and imports included);
3. for information, the full command with promtool (its two runs included).

The goal is under 2 s for 2.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "sre.yaml"
RUNS = 7
GOAL_S = 2.0


def in_process(out: Path, runs: int) -> tuple[float, list[float], int]:
    """(first run, later runs, exit code of the last run)."""
    from sre.config import load_config
    from sre.render.__main__ import run

    times = []
    code = 0
    for _ in range(runs + 1):
        sink = io.StringIO()
        start = time.perf_counter()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            code = run(load_config(CONFIG), out, skip_promtool=True)
        times.append(time.perf_counter() - start)
    return times[0], times[1:], code


def subprocess_runs(out: Path, runs: int, *extra: str) -> tuple[list[float], int]:
    times = []
    code = 0
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "sre.render", "--config", str(CONFIG), "--out", str(out)]
            + list(extra),
            cwd=REPO,
            capture_output=True,
            check=False,
        )
        times.append(time.perf_counter() - start)
        code = proc.returncode
    return times, code


def sizes(out: Path) -> str:
    files = [p for p in out.rglob("*") if p.is_file()]
    return f"{len(files)} files, {sum(p.stat().st_size for p in files):,} bytes"


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        out = Path(tmp) / "build"
        first, warm, code = in_process(out, RUNS)
        print(f"render of {REPO.name}/ into a temp dir: {sizes(out)} (exit code {code})")
        if code != 0:
            print("  note: the render found problems; run python -m sre.render to see them")
        print(f"in-process, first run (imports grafanalib and the content): {first:.3f} s")
        print(
            f"in-process, median of {RUNS}: {statistics.median(warm):.3f} s "
            f"(min {min(warm):.3f}, max {max(warm):.3f})"
        )
        cli, code = subprocess_runs(out, RUNS, "--skip-promtool")
        median = statistics.median(cli)
        print(
            f"python -m sre.render --skip-promtool, median of {RUNS}: {median:.3f} s "
            f"(min {min(cli):.3f}, max {max(cli):.3f}; exit code {code})"
        )
        if shutil.which("promtool"):
            full, code = subprocess_runs(out, 3)
            print(
                f"python -m sre.render with promtool, median of 3: "
                f"{statistics.median(full):.3f} s (exit code {code})"
            )
        else:
            print("python -m sre.render with promtool: not measured (promtool not installed)")
        verdict = "met" if median < GOAL_S else "MISSED"
        print(f"goal: full command without promtool < {GOAL_S:.0f} s: {verdict} ({median:.3f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
