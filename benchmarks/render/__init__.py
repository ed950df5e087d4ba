"""Render benchmark: ``python -m benchmarks.render``."""
