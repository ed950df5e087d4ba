"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.helpers.postgres import PostgresCluster
from tests.helpers.versions import SETS, BinarySet, missing_current


@pytest.fixture(scope="module", params=SETS, ids=[s.id for s in SETS])
def prometheus_versions(request: pytest.FixtureRequest) -> Iterator[BinarySet]:
    """Run the module once per Prometheus/Alertmanager version (see tests/helpers/versions)."""
    chosen: BinarySet = request.param
    if chosen.bin_dir is None:
        yield chosen
        return
    problem = missing_current()
    if problem:
        pytest.fail(problem)  # a missing version is a failure, never a skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{chosen.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
        yield chosen


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL for the session (Debian's server on a loopback port); each
    user makes its own database (``create_database``). libpq finds the user in PGUSER, as
    the daemon does: a ``daemon.state`` URL never holds credentials."""
    with pytest.MonkeyPatch.context() as patch, PostgresCluster() as cluster:
        patch.setenv("PGUSER", "postgres")
        yield cluster
