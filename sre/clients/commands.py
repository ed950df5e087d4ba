"""Commands run as subprocesses (no shell): the edge under kubectl, helm and a configured
rollback command. I/O only; a failure to run or parse becomes ``ClientError``."""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sre.clients import ClientError

OUTPUT_LIMIT = 8192  # bytes of output kept per command (the tail: errors come last)


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    exit_code: int | None  # None: killed at the time-out
    output: str  # stdout and stderr, interleaved, the last OUTPUT_LIMIT bytes
    seconds: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "argv": list(self.argv),
            "exit_code": self.exit_code,
            "output": self.output,
            "seconds": round(self.seconds, 3),
        }


def go_seconds(seconds: float) -> str:
    return f"{max(1, math.ceil(seconds))}s"


async def run(argv: Sequence[str], timeout: float) -> CommandResult:
    """Run ``argv`` (no shell); kill it after ``timeout`` s. Never raises for a bad exit."""
    started = time.monotonic()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
    except OSError as err:
        return CommandResult(tuple(argv), 127, f"cannot run {argv[0]}: {err}", 0.0)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        code: int | None = proc.returncode
    except TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
        code = None
        out += f"\n[killed after {timeout:g}s]".encode()
    text = out[-OUTPUT_LIMIT:].decode(errors="replace")
    return CommandResult(tuple(argv), code, text, time.monotonic() - started)


async def run_json(argv: Sequence[str], timeout: float = 30.0) -> Any:
    result = await run(argv, timeout)
    if result.exit_code == 127:
        raise ClientError("not_found", result.output, retryable=False)
    if not result.ok:
        tail = " ".join(result.output.split())[-300:]
        raise ClientError(
            "command_failed",
            f"{' '.join(argv[:3])} exited {result.exit_code}: {tail}",
            retryable=True,
        )
    try:
        return json.loads(result.output)
    except ValueError:
        raise ClientError(
            "bad_response", f"{' '.join(argv[:3])}: output is not JSON", retryable=False
        ) from None


def parse_time(value: object) -> float:
    """Epoch seconds from a number or an RFC 3339 time (kubectl, helm: nanoseconds, Z)."""
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    # Python keeps microseconds: cut helm's nanoseconds to six digits.
    text = re.sub(r"\.(\d{6})\d+", r".\1", text)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ClientError("bad_response", f"not a time: {value!r}", retryable=False) from None
