"""kubectl: a Deployment's revisions, and its rollback. I/O only; errors -> ``ClientError``.

Revisions: a Deployment's ``deployment.kubernetes.io/revision`` annotation, and its
ReplicaSets' (the ones it owns): each carries the revision it was created for and its
``creationTimestamp``; the previous revision is the highest one below the current.
A Deployment set back to an older template reuses that template's ReplicaSet: Kubernetes
gives it the new revision number (the old ones go to ``revision-history``) but its
``creationTimestamp`` stays the old one, so the deploy time is unknown (NaN) and the
rollback feature uses the time it first saw the revision instead.

Rollback: ``kubectl rollout undo deployment/NAME -n NS --to-revision=PREVIOUS`` (the
revision the decision computed, not "whatever is previous by then") then
``kubectl rollout status deployment/NAME -n NS --timeout=<timeout>s``. The command lines
are built by small pure functions (``*_argv``) so tests and the docs show exactly what runs.
"""

from __future__ import annotations

import math

from sre.checks.rollback import Revision
from sre.clients import ClientError
from sre.clients.commands import CommandResult, go_seconds, parse_time, run, run_json

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history"


def kubectl_undo_argv(
    name: str, namespace: str, to_revision: str, kubectl: str = "kubectl"
) -> list[str]:
    return [
        kubectl,
        "rollout",
        "undo",
        f"deployment/{name}",
        "-n",
        namespace,
        f"--to-revision={to_revision}",
    ]


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
        f"--timeout={go_seconds(timeout)}",
    ]


class Kubectl:
    """The binary name is a parameter for tests."""

    def __init__(self, binary: str = "kubectl") -> None:
        self.binary = binary

    async def deployment_revision(self, name: str, namespace: str) -> Revision:
        deploy = await run_json(
            [self.binary, "get", f"deployment/{name}", "-n", namespace, "-o", "json"]
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
        sets = await run_json(
            [self.binary, "get", "replicasets", "-n", namespace, "-l", selector, "-o", "json"]
        )
        revisions: dict[int, float] = {}
        for rs in sets.get("items", []) if isinstance(sets, dict) else []:
            meta = rs.get("metadata", {})
            owners = meta.get("ownerReferences") or []
            if not any(o.get("kind") == "Deployment" and o.get("name") == name for o in owners):
                continue
            annotations = meta.get("annotations") or {}
            rev = annotations.get(REVISION_ANNOTATION)
            if rev is not None and str(rev).isdigit():
                reused = bool(annotations.get(HISTORY_ANNOTATION))
                created = parse_time(meta.get("creationTimestamp"))
                revisions[int(rev)] = math.nan if reused else created
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

    async def undo(
        self, name: str, namespace: str, to_revision: str, timeout: float
    ) -> list[CommandResult]:
        undo = await run(kubectl_undo_argv(name, namespace, to_revision, self.binary), timeout)
        if not undo.ok:
            return [undo]
        status = await run(kubectl_status_argv(name, namespace, timeout, self.binary), timeout + 30)
        return [undo, status]
