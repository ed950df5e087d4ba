"""helm: a release's revisions, and its rollback. I/O only; errors -> ``ClientError``.

Revisions: ``helm history RELEASE -n NS -o json`` (``revision``, ``updated``, ``status``).
Rollback: ``helm rollback RELEASE 0 -n NS --wait --timeout <timeout>s`` (0 = the previous
revision).
"""

from __future__ import annotations

from sre.checks.rollback import Revision
from sre.clients import ClientError
from sre.clients.commands import CommandResult, go_seconds, parse_time, run, run_json


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
        go_seconds(timeout),
    ]


class Helm:
    """The binary name is a parameter for tests."""

    def __init__(self, binary: str = "helm") -> None:
        self.binary = binary

    async def revision(self, release: str, namespace: str) -> Revision:
        history = await run_json([self.binary, "history", release, "-n", namespace, "-o", "json"])
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

    async def rollback(self, release: str, namespace: str, timeout: float) -> list[CommandResult]:
        return [
            await run(helm_rollback_argv(release, namespace, timeout, self.binary), timeout + 30)
        ]
