"""The longest window a rule reads, from the repository's own rules (``rules.all_groups``)
for the daemon's config: the figure Prometheus' retention must cover.

Rules are content code: a failure in it is reported as a reason, never raised. A
daemon-only config may have no ``runbooks`` section; the rules need one for their links
only, so a placeholder stands in (the window does not depend on it).
"""

from __future__ import annotations

import dataclasses

from sre.config import Config
from sre.config.connections import RunbooksConfig
from sre.config.durations import Duration


def rules_window(cfg: Config) -> tuple[Duration | None, str]:
    """``(longest window, "")``, or ``(None, why it is unknown)``."""
    if cfg.runbooks is None:
        cfg = dataclasses.replace(cfg, runbooks=RunbooksConfig(base_url="http://unused.invalid/"))
    try:
        import rules
        from rules.prometheus import longest_window

        return longest_window(rules.all_groups(cfg)), ""
    except Exception as err:  # content code may raise anything: say so, never crash
        return None, f"the rules could not be built for this config: {type(err).__name__}: {err}"
