"""The Prometheus rules of the platform, one module per area.

``all_groups(cfg)`` is the one entry point: every recording and alerting group, in a stable
order, each naming the ``build/rules/<file>.yaml`` it lands in.
"""

from __future__ import annotations

from sre.config import Config
from sre.model import RuleGroup

from . import (
    agents,
    datastores,
    prometheus,
    recording,
    resources,
    security,
    services,
    slo,
    sre_daemon,
    thresholds,
)

AREAS = (recording, thresholds, slo, services, resources, agents, datastores, security, sre_daemon)


def all_groups(cfg: Config) -> list[RuleGroup]:
    """Every rule group for ``cfg``: recording rules first, then alerts area by area, then
    the pipeline's own (Watchdog, and the retention guard sized by every other rule)."""
    found = [group for area in AREAS for group in area.groups(cfg)]
    return found + prometheus.groups(cfg, found)
