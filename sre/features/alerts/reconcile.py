"""Reconcile's grace period: an alert is resolved in Slack only after Alertmanager has
stopped listing it for a while.

Alertmanager can briefly not list an alert that is still firing: after a restart without
persistence it knows only what Prometheus sends again (every rule evaluation, resent each
``resend_delay``); a peer of a cluster may not have gossiped it yet. Resolving the Slack
message at the first pass that misses it would turn a red message green during an
incident. So each (group, fingerprint) is remembered from the first pass that misses it
and resolved once it has been missing for ``grace``; it is forgotten as soon as it shows
up again. The memory is in-process on purpose: after a restart the grace starts again,
which can only delay a resolve, never hasten one.
"""

from __future__ import annotations

from collections.abc import Callable, Collection


class MissingSince:
    """When each firing alert of each group was first seen missing from Alertmanager."""

    def __init__(self, grace: float, clock: Callable[[], float]) -> None:
        self.grace = grace
        self.clock = clock
        self._since: dict[str, dict[str, float]] = {}

    def due(self, group_key: str, missing: Collection[str]) -> list[str]:
        """The fingerprints of ``group_key`` missing for at least the grace period, after
        recording this pass (``missing``: the group's firing alerts Alertmanager lacks)."""
        now = self.clock()
        before = self._since.get(group_key, {})
        since = {fp: before.get(fp, now) for fp in missing}  # back again: forgotten
        due = sorted(fp for fp, first in since.items() if now - first >= self.grace)
        for fp in due:
            del since[fp]  # handed to the outbox; the group's view says resolved from now
        if since:
            self._since[group_key] = since
        else:
            self._since.pop(group_key, None)
        return due

    def keep_only(self, group_keys: Collection[str]) -> None:
        """Forget groups that are no longer firing (resolved by a webhook meanwhile)."""
        for key in set(self._since) - set(group_keys):
            del self._since[key]

    def waiting(self) -> int:
        """Alerts missing from Alertmanager but still inside their grace period."""
        return sum(len(fps) for fps in self._since.values())
