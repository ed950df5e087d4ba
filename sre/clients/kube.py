"""kubectl and helm (and a configured command), run as subprocesses. I/O only.

Two jobs: read a target's current revision (with the time it appeared and the revision a
rollback would return to), and run the rollback. The command lines are built by small
pure functions (``*_argv``) so tests and the README show exactly what runs:

* deployment: ``kubectl rollout undo deployment/NAME -n NS`` then
  ``kubectl rollout status deployment/NAME -n NS --timeout=<timeout>s``;
* helm: ``helm rollback RELEASE 0 -n NS --wait --timeout <timeout>s`` (0 = the previous
  revision);
* command: the configured argv, as is (no shell).

Revisions: a Deployment's ``deployment.kubernetes.io/revision`` annotation, and its
ReplicaSets' (the ones it owns): each carries the revision it was created for and its
``creationTimestamp``; the previous revision is the highest one below the current.
Helm: ``helm history RELEASE -n NS -o json`` (``revision``, ``updated``, ``status``).
Errors (binary missing, non-zero exit, unparseable output) become ``ClientError``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sre.checks.rollback import Revision
from sre.clients import ClientError

log = logging.getLogger(__name__)

OUTPUT_LIMIT = 8192  # bytes of output kept per command (the tail: errors come last)
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"


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


def _go_seconds(seconds: float) -> str:
    return f"{max(1, math.ceil(seconds))}s"


def kubectl_undo_argv(name: str, namespace: str, kubectl: str = "kubectl") -> list[str]:
    return [kubectl, "rollout", "undo", f"deployment/{name}", "-n", namespace]


def kubectl_status_argv(
    name: str, namespace: str, timeout: float, kubectl: str = "kubectl"
) -> list[str]:
    return [
        kubectl,
        "rollout",
        "status",
        f"deployment/{name}",
        "-n",
        namespace,
        f"--timeout={_go_seconds(timeout)}",
    ]


def helm_rollback_argv(
    release: str, namespace: str, timeout: float, helm: str = "helm"
) -> list[str]:
    return [
        helm,
        "rollback",
        release,
        "0",
        "-n",
        namespace,
        "--wait",
        "--timeout",
        _go_seconds(timeout),
    ]


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


async def _json(argv: Sequence[str], timeout: float = 30.0) -> Any:
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


class Kube:
    """Revision readers and executors; the binary names are parameters for tests."""

    def __init__(self, kubectl: str = "kubectl", helm: str = "helm") -> None:
        self.kubectl = kubectl
        self.helm = helm

    # ------------------------------------------------------------------ revisions

    async def deployment_revision(self, name: str, namespace: str) -> Revision:
        deploy = await _json(
            [self.kubectl, "get", f"deployment/{name}", "-n", namespace, "-o", "json"]
        )
        try:
            current = str(deploy["metadata"]["annotations"][REVISION_ANNOTATION])
            match = deploy["spec"]["selector"]["matchLabels"]
            selector = ",".join(f"{k}={v}" for k, v in sorted(match.items()))
        except (KeyError, TypeError, AttributeError):
            raise ClientError(
                "bad_response",
                f"deployment/{name}: no {REVISION_ANNOTATION} annotation or selector",
                retryable=False,
            ) from None
        sets = await _json(
            [self.kubectl, "get", "replicasets", "-n", namespace, "-l", selector, "-o", "json"]
        )
        revisions: dict[int, float] = {}
        for rs in sets.get("items", []) if isinstance(sets, dict) else []:
            meta = rs.get("metadata", {})
            owners = meta.get("ownerReferences") or []
            if not any(o.get("kind") == "Deployment" and o.get("name") == name for o in owners):
                continue
            rev = (meta.get("annotations") or {}).get(REVISION_ANNOTATION)
            if rev is not None and str(rev).isdigit():
                revisions[int(rev)] = parse_time(meta.get("creationTimestamp"))
        if not current.isdigit() or int(current) not in revisions:
            raise ClientError(
                "bad_response",
                f"deployment/{name}: no ReplicaSet for revision {current}",
                retryable=True,
            )
        older = [r for r in revisions if r < int(current)]
        return Revision(
            revision=current,
            deployed_at=revisions[int(current)],
            previous=str(max(older)) if older else None,
        )

    async def helm_revision(self, release: str, namespace: str) -> Revision:
        history = await _json([self.helm, "history", release, "-n", namespace, "-o", "json"])
        if not isinstance(history, list) or not history:
            raise ClientError("bad_response", f"helm history {release}: empty", retryable=False)
        try:
            entries = sorted(history, key=lambda e: int(e["revision"]))
            deployed = [e for e in entries if e.get("status") == "deployed"]
            current = deployed[-1] if deployed else entries[-1]
            older = [e for e in entries if int(e["revision"]) < int(current["revision"])]
            return Revision(
                revision=str(current["revision"]),
                deployed_at=parse_time(current["updated"]),
                previous=str(older[-1]["revision"]) if older else None,
            )
        except (KeyError, TypeError, ValueError):
            raise ClientError(
                "bad_response", f"helm history {release}: unexpected entries", retryable=False
            ) from None

    async def command_revision(self, argv: Sequence[str]) -> Revision:
        """``revision_argv`` prints ``{"revision": .., "previous": .., "deployed_at": ..}``.

        ``deployed_at`` (epoch or RFC 3339) may be missing: the caller then uses the time it
        first saw the revision (``deployed_at`` is NaN here).
        """
        data = await _json(argv)
        if not isinstance(data, dict) or data.get("revision") in (None, ""):
            raise ClientError("bad_response", f"{argv[0]}: no revision in output", retryable=False)
        previous = data.get("previous")
        seen = data.get("deployed_at")
        return Revision(
            revision=str(data["revision"]),
            deployed_at=math.nan if seen is None else parse_time(seen),
            previous=None if previous in (None, "") else str(previous),
        )

    # ------------------------------------------------------------------ executors

    async def undo_deployment(
        self, name: str, namespace: str, timeout: float
    ) -> list[CommandResult]:
        undo = await run(kubectl_undo_argv(name, namespace, self.kubectl), timeout)
        if not undo.ok:
            return [undo]
        status = await run(
            kubectl_status_argv(name, namespace, timeout, self.kubectl), timeout + 30
        )
        return [undo, status]

    async def rollback_helm(
        self, release: str, namespace: str, timeout: float
    ) -> list[CommandResult]:
        return [await run(helm_rollback_argv(release, namespace, timeout, self.helm), timeout + 30)]

    async def run_command(self, argv: Sequence[str], timeout: float) -> list[CommandResult]:
        return [await run(argv, timeout)]
