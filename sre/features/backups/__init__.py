"""Backup verification: ``feature`` (jobs, judging, announcing), ``ladder`` (the checks of
one backup), ``state`` (history in the store), ``metrics``, ``notices``."""
