"""Health probes: ``feature`` (targets -> engines), ``engine`` (one loop per interval),
``state`` (per-target records, read by the rollback trigger), ``metrics``."""
