"""The Grafana dashboards, one module per dashboard; ``_panels`` is the house style.

Each module has ``build(cfg) -> Dashboard``; :func:`all_dashboards` lists them in the order
of ``sre.catalog.DASHBOARD_SLUGS``.
"""

from __future__ import annotations

from typing import Any

from dashboards import agents, datastores, overview, resources, service_performance, slo, sre_daemon
from sre.config import Config

MODULES = (overview, service_performance, resources, agents, datastores, slo, sre_daemon)


def all_dashboards(cfg: Config) -> list[Any]:
    """Every dashboard for ``cfg``, in a stable order (that of ``DASHBOARD_SLUGS``)."""
    return [module.build(cfg) for module in MODULES]
