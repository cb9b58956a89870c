"""The database types through ``bench run``: verified (bodies, clamping, the statements
each request makes as the database or the app counts them, updates read back from the
database), measured at their query levels on SQLite with no setup and on PostgreSQL, and
deliberately broken apps failing verification with the reason."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from asgibench.harness import db, results, testtypes, verify
from tests.harness.apps import broken_db
from tests.harness.conftest import free_port, start, stop

DB_TYPES = ("db", "query", "fortune", "update", "cached-query")
DRIVERS = ["python"] + (["wrk"] if shutil.which("wrk") else [])
# Small N: the quick profile's 128 connections x 20 updates can outlast a 0.3 s level on a
# loaded machine.
TINY = ["--duration", "0.5", "--warmup", "0", "--repeat", "1", "--quiet",
        "--levels", "db=8", "--levels", "fortune=8", "--levels", "query=1,5",
        "--levels", "update=1,5", "--levels", "cached-query=1,10"]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def bench_run(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path / "run.json"
    proc = subprocess.run([sys.executable, "-m", "asgibench", "run", "--test",
                           ",".join(DB_TYPES), *TINY, "--out", str(out), *args],
                          capture_output=True, text=True, timeout=240, check=False)
    return proc, out


def assert_all_verified_and_measured(out: Path, servers: set[str], source: str) -> None:
    run = results.load(out)
    assert {e.server for e in run.entries} == servers
    for entry in run.entries:
        assert entry.status == "ok", (entry.server, entry.test, entry.reason)
        checks = {c.name: c for c in entry.verification.checks}
        assert source in checks["statements"].detail, checks["statements"].detail
        if entry.test == "update":
            assert checks["update_persisted"].ok and "rows changed" in \
                checks["update_persisted"].detail
        for level in entry.levels:
            (repeat,) = level.repeats
            assert repeat.requests > 0 and not repeat.error_count, (entry.test, level.label)
        if testtypes.level_kind(entry.test) == "queries":
            assert [lv.queries for lv in entry.levels] == run.settings.levels[entry.test]


@pytest.mark.parametrize("driver", DRIVERS)
def test_sqlite_needs_no_setup(tmp_path: Path, driver: str) -> None:
    """No --db: the run seeds its own SQLite database; the app counts statements."""
    proc, out = bench_run(tmp_path, "--server", "asgibench", "--loop", "asyncio",
                          "--proto", "h11", "--driver", driver)
    assert proc.returncode == 0, proc.stderr
    assert_all_verified_and_measured(out, {"asgibench"}, "the app's count")
    assert results.load(out).settings.extra["database"]["kind"] == "sqlite"


def test_postgresql_counted_by_the_database(tmp_path: Path, postgres_url: str) -> None:
    proc, out = bench_run(tmp_path, "--server", "asgibench,uvicorn", "--loop", "uvloop",
                          "--proto", "httptools", "--driver", "python", "--db", postgres_url)
    assert proc.returncode == 0, proc.stderr
    assert_all_verified_and_measured(out, {"asgibench", "uvicorn"}, "pg_stat_statements")
    recorded = results.load(out).settings.extra["database"]
    assert recorded["kind"] == "postgresql" and ":***@" in recorded["url"]
    password = db.parse_url(postgres_url).password
    assert f":{password}@" not in out.read_text(), "the password is written down"


@pytest.mark.parametrize(("args", "needle"), [
    (["--db", "mysql://x/y"], "is not a database URL"),
    (["--db", "postgresql://u:p@127.0.0.1:1/db"], "--db postgresql://u:***@127.0.0.1:1/db"),
])
def test_a_wrong_database_is_one_line_before_anything_starts(tmp_path: Path, args: list[str],
                                                             needle: str) -> None:
    proc, out = bench_run(tmp_path, "--server", "asgibench", *args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert not out.exists()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'tfb.sqlite'}"
    db.init_sync(url)
    return url


@pytest.fixture
def broken(sqlite_url: str) -> Iterator[callable]:
    procs: list[subprocess.Popen[bytes]] = []

    def serve(defect: str) -> int:
        port = free_port()
        os.environ[db.ENV], os.environ["BROKEN_DB"] = sqlite_url, defect
        try:
            procs.append(start([sys.executable, "-m", "asgibench", "serve",
                                "tests.harness.apps.broken_db:app", "--port", str(port),
                                "--loop", "asyncio", "--proto", "h11"], port))
        finally:
            del os.environ[db.ENV], os.environ["BROKEN_DB"]
        return port

    yield serve
    for proc in procs:
        stop(proc)


@pytest.mark.parametrize(("defect", "test", "needle"), [
    ("fortune-unescaped", "fortune", "body"),
    ("query-unclamped", "query", "queries=0"),
    ("update-not-persisted", "update", "not in the database"),
    ("query-in", "query", "world_select 1 (expected 20)"),
])
def test_each_broken_app_fails_verification(broken: callable, sqlite_url: str, defect: str,
                                            test: str, needle: str) -> None:
    assert defect in broken_db.DEFECTS
    port = broken(defect)
    test_type = testtypes.get(test)
    outcome = verify.verify(test_type, "127.0.0.1", port)
    if outcome.passed:
        outcome.checks.extend(verify.verify_database(test_type, "127.0.0.1", port,
                                                     sqlite_url))
    assert not outcome.passed
    assert needle in outcome.summary(), outcome.summary()


def test_a_broken_entry_is_listed_as_failed_and_the_run_goes_on(
        tmp_path: Path, broken: callable, sqlite_url: str) -> None:
    port = broken("query-in")
    proc, out = bench_run(tmp_path, "--url", f"http://127.0.0.1:{port}", "--db", sqlite_url,
                          "--driver", "python")
    assert proc.returncode == 0, proc.stderr
    by_test = {entry.test: entry for entry in results.load(out).entries}
    assert by_test["query"].status == "failed" and by_test["query"].phase == "verify"
    assert "world_select 1 (expected 20)" in by_test["query"].reason
    for name in ("db", "fortune", "update", "cached-query"):
        assert by_test[name].status == "ok", (name, by_test[name].reason)
