"""Alert handling benchmark (``python -m benchmarks.alerts``)."""
