"""helm: a release's revisions, and its rollback. I/O only; errors -> ``ClientError``.

Revisions: ``helm history RELEASE -n NS -o json`` (``revision``, ``updated``, ``status``).
The current revision is the newest entry, and only when it is ``deployed``: while an
install, upgrade or rollback is in progress (``pending-*``) or after one failed, what runs
is not one revision, so there is no decision (a retryable error: the next evaluation asks
again). The previous revision is the newest older entry that ran (``superseded`` or
``deployed``), never a failed one.

Rollback: ``helm rollback RELEASE PREVIOUS -n NS --wait --timeout <timeout>s``, with the
revision the decision computed (Helm's ``0`` would mean "the one before the newest entry",
which is another revision if a deploy happened meanwhile).
"""

from __future__ import annotations

from sre.checks.rollback import Revision
from sre.clients import ClientError
from sre.clients.commands import CommandResult, go_seconds, parse_time, run, run_json

RAN = ("deployed", "superseded")  # statuses of a revision that was running at some point


def helm_rollback_argv(
    release: str, namespace: str, to_revision: str, timeout: float, helm: str = "helm"
) -> list[str]:
    return [
        helm,
        "rollback",
        release,
        to_revision,
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
            current = entries[-1]
            status = str(current.get("status"))
            older = [e for e in entries[:-1] if e.get("status") in RAN]
            revision = Revision(
                revision=str(current["revision"]),
                deployed_at=parse_time(current["updated"]),
                previous=str(older[-1]["revision"]) if older else None,
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ClientError(
                "bad_response", f"helm history {release}: unexpected entries", retryable=False
            ) from None
        if status != "deployed":
            raise ClientError(
                "not_settled",
                f"helm history {release}: newest revision {revision.revision} is {status}, "
                "not deployed: no decision until it settles",
                retryable=True,
            )
        return revision

    async def rollback(
        self, release: str, namespace: str, to_revision: str, timeout: float
    ) -> list[CommandResult]:
        argv = helm_rollback_argv(release, namespace, to_revision, timeout, self.binary)
        return [await run(argv, timeout + 30)]
