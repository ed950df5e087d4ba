"""Auto-rollback benchmark (``python -m benchmarks.rollback``)."""
