"""Fixtures for every test directory: the PostgreSQL the database tests run against."""

from __future__ import annotations

import os

import pytest

#: What ``bash .ci/postgres.sh`` starts (docs/database.md).
DEFAULT_POSTGRES = "postgresql://asgibench:asgibench@127.0.0.1:55432/asgibench"
POSTGRES_ENV = "ASGIBENCH_TEST_POSTGRES"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A seeded PostgreSQL database: ``$ASGIBENCH_TEST_POSTGRES``, else the one
    ``.ci/postgres.sh`` starts. Seeded (``bench db init``) when its tables are missing.
    Skips when none is reachable, except when ``$ASGIBENCH_TEST_POSTGRES`` names one
    (``.ci/run`` exports it): then it fails, so the database tests cannot be skipped
    where a database was promised."""
    from asgibench.harness import db

    url = os.environ.get(POSTGRES_ENV) or DEFAULT_POSTGRES
    status = db.status_sync(url)
    if not status.reachable:
        reason = (f"no PostgreSQL reachable ({status.problems[0]}): start one with "
                  f"`bash .ci/postgres.sh` or set {POSTGRES_ENV}=postgresql://... "
                  "(see docs/database.md)")
        if os.environ.get(POSTGRES_ENV):
            pytest.fail(reason)
        pytest.skip(reason)
    if status.problems:
        db.init_sync(url)
    return url
