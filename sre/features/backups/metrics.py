"""The backup feature's metrics (names and help from the catalogue)."""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Gauge

from sre.runtime.metrics import catalog_metric


class BackupMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.last_success: Gauge = catalog_metric(
            registry, "sre_backup_last_success_timestamp_seconds"
        )
        self.age: Gauge = catalog_metric(registry, "sre_backup_age_seconds")
        self.size: Gauge = catalog_metric(registry, "sre_backup_size_bytes")
        self.success: Gauge = catalog_metric(registry, "sre_backup_verification_success")
        self.restore_duration: Gauge = catalog_metric(
            registry, "sre_backup_restore_duration_seconds"
        )

    def forget_age(self, backup: str) -> None:
        """No age known now: remove the series rather than leave it frozen at an old value."""
        with contextlib.suppress(KeyError):
            self.age.remove(backup)

    def set_step(self, backup: str, step: str, outcome: str) -> None:
        if outcome == "no_verdict":
            with contextlib.suppress(KeyError):
                self.success.remove(backup, step)
        else:
            self.success.labels(backup=backup, step=step).set(1 if outcome == "pass" else 0)
