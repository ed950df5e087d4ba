"""Auto-rollback: Prometheus-verified rollbacks of Deployments, Helm releases and commands.

``build(ctx)`` returns the feature when at least one service has a ``rollback`` block, and
offers it to others as ``ctx.rollbacks`` (the Slack "Roll back" button). See
``engine.py`` for the evaluation loop, ``queries.py`` for the PromQL, ``state.py`` for
what survives a restart and ``report.py`` for the audit trail.
"""

from __future__ import annotations

import logging

from sre.daemon.feature import FeatureContext
from sre.jobs.rollback.engine import RollbackFeature

log = logging.getLogger(__name__)


def build(ctx: FeatureContext) -> RollbackFeature | None:
    engine = ctx.config.daemon.rollbacks
    if not any(s.rollback is not None for s in ctx.config.services):
        log.info("rollback: no service has a rollback block, auto-rollback off")
        return None
    feature = RollbackFeature(ctx)
    ctx.rollbacks = feature
    log.info(
        "rollback: %d service(s) evaluated every %s, global switch %s%s",
        len(feature.services),
        engine.interval,
        "on" if engine.enabled else "OFF (decisions recorded, nothing runs)",
        "".join(
            f", {n} dry_run"
            for n, s in feature.services.items()
            if s.rollback and s.rollback.dry_run
        ),
    )
    return feature
