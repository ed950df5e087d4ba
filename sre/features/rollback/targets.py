"""What a rollback acts on: one interface, one implementation per ``rollback.target.kind``.

A target answers three questions: what is it (``describe``, for the audit record), which
revision runs now and which one a rollback returns to (``revision``), and roll it back to
the revision the decision computed (``roll_back``, returning every command's result). A
``command`` target without ``revision_argv`` has no revisions: the feature tracks
"episodes" for it instead (``has_revisions`` is False).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

from sre.checks.rollback import Revision
from sre.clients import ClientError
from sre.clients.commands import CommandResult, parse_time, run, run_json
from sre.clients.helm import Helm
from sre.clients.kube import Kubectl
from sre.config import Service


class Target(Protocol):
    kind: str
    has_revisions: bool

    def describe(self) -> dict[str, Any]: ...
    async def revision(self) -> Revision: ...
    async def roll_back(self, to: str, timeout: float) -> list[CommandResult]:
        """Return to revision ``to`` (``Revision.previous`` of the decision)."""
        ...


class DeploymentTarget:
    """``kubectl rollout undo`` a Deployment; revisions from its ReplicaSets."""

    kind = "deployment"
    has_revisions = True

    def __init__(self, name: str, namespace: str, kubectl: Kubectl) -> None:
        self.name = name
        self.namespace = namespace
        self.kubectl = kubectl

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name}

    async def revision(self) -> Revision:
        return await self.kubectl.deployment_revision(self.name, self.namespace)

    async def roll_back(self, to: str, timeout: float) -> list[CommandResult]:
        if not to:  # decide() never gets here without a previous revision; nothing runs
            return []
        return await self.kubectl.undo(self.name, self.namespace, to, timeout)


class HelmTarget:
    """``helm rollback`` a release; revisions from ``helm history``."""

    kind = "helm"
    has_revisions = True

    def __init__(self, release: str, namespace: str, helm: Helm) -> None:
        self.release = release
        self.namespace = namespace
        self.helm = helm

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "release": self.release}

    async def revision(self) -> Revision:
        return await self.helm.revision(self.release, self.namespace)

    async def roll_back(self, to: str, timeout: float) -> list[CommandResult]:
        if not to:
            return []
        return await self.helm.rollback(self.release, self.namespace, to, timeout)


class CommandTarget:
    """A configured command (no shell). ``revision_argv`` prints the current revision as
    JSON: ``{"revision": .., "previous": .., "deployed_at": ..}``; ``deployed_at`` (epoch
    or RFC 3339) may be missing, and is then NaN: the feature uses the time it first saw
    the revision."""

    kind = "command"

    def __init__(self, argv: Sequence[str], revision_argv: Sequence[str] | None) -> None:
        self.argv = tuple(argv)
        self.revision_argv = tuple(revision_argv) if revision_argv else None
        self.has_revisions = self.revision_argv is not None

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "argv": list(self.argv)}

    async def revision(self) -> Revision:
        if self.revision_argv is None:
            raise ClientError(
                "no_revisions", "command target has no revision_argv", retryable=False
            )
        argv = self.revision_argv
        data = await run_json(argv)
        if not isinstance(data, dict) or data.get("revision") in (None, ""):
            raise ClientError("bad_response", f"{argv[0]}: no revision in output", retryable=False)
        previous = data.get("previous")
        seen = data.get("deployed_at")
        return Revision(
            revision=str(data["revision"]),
            deployed_at=math.nan if seen is None else parse_time(seen),
            previous=None if previous in (None, "") else str(previous),
        )

    async def roll_back(self, to: str, timeout: float) -> list[CommandResult]:
        return [await run(self.argv, timeout)]  # the command knows what "back" means


def target_for(service: Service, kubectl: Kubectl, helm: Helm) -> Target:
    """The target of ``service``'s ``rollback`` block."""
    rollback = service.rollback
    if rollback is None:
        raise ValueError(f"service {service.name} has no rollback block")
    spec = rollback.target
    if spec.kind == "deployment":
        assert spec.name is not None  # the config checks it
        return DeploymentTarget(spec.name, service.namespace, kubectl)
    if spec.kind == "helm":
        assert spec.release is not None
        return HelmTarget(spec.release, service.namespace, helm)
    return CommandTarget(spec.argv or (), spec.revision_argv)
