"""Auto-rollback: Prometheus-verified rollbacks of Deployments, Helm releases and commands.

``feature`` (evaluate, decide, act), ``targets`` (one implementation per target kind:
revision, roll back, describe), ``triggers`` and ``queries`` (the verdicts over the ``for``
window), ``state`` (what survives a restart), ``audit`` (the trail, ``GET /rollbacks``),
``notices`` (what people are told), ``metrics``.
"""
