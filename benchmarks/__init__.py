"""Runnable benchmarks. ``make bench`` runs them all; ``make bench BENCH=probes`` one."""
