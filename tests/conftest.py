"""Fixtures for every test directory: the PostgreSQL the database tests run against."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

try:
    import fcntl
except ImportError:  # Windows: xdist runs there without the quiet lock
    fcntl = None  # type: ignore[assignment]

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


#: Tests that take minutes, started first when the suite runs on several xdist workers:
#: collected last, the README walk (~4 min) would otherwise start when the other worker has
#: almost nothing left, and run alone at the end.
LONGEST_FIRST = ("tests/test_readme.py::",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return  # one process: the order does not change the wall time
    first = [item for item in items if item.nodeid.startswith(LONGEST_FIRST)]
    if first:
        items[:] = first + [item for item in items if item not in first]


# --------------------------------------------------------------------------------------
# Sharing the machine between xdist workers (pyproject: addopts -n 2)
#
# Tests marked ``quiet`` measure what another test running beside them would move: a
# driver's CPU share, a latency tail, a rate. Under xdist each such test holds an exclusive
# lock while the others hold it shared, so a quiet test runs alone (the other worker waits
# between two tests) and everything else still runs two at a time. A second lock, taken
# briefly before the shared one, lets a waiting quiet test in ahead of the next test.


def _lock_paths(config: pytest.Config) -> tuple[Path, Path] | None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return None  # not an xdist worker: nothing runs beside this test
    base = Path(tempfile.gettempdir()) / f"asgibench-pytest-{workerinput['testrunuid']}"
    return base.with_suffix(".turn"), base.with_suffix(".share")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    paths = _lock_paths(item.config)
    if paths is None or fcntl is None:
        yield
        return
    quiet = item.get_closest_marker("quiet") is not None
    turn_path, share_path = paths
    with open(turn_path, "a") as turn, open(share_path, "a") as share:
        fcntl.flock(turn, fcntl.LOCK_EX)
        if quiet:
            fcntl.flock(share, fcntl.LOCK_EX)  # holding the turn: no new shared holder
            fcntl.flock(turn, fcntl.LOCK_UN)
        else:
            fcntl.flock(turn, fcntl.LOCK_UN)
            fcntl.flock(share, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(share, fcntl.LOCK_UN)
