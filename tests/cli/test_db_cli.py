"""``bench db init`` and ``bench db check``: exit codes, and errors in one line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def bench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "ASGIBENCH_DB"}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "asgibench", *args], capture_output=True,
                          text=True, env=full, timeout=60)


def one_error_line(result: subprocess.CompletedProcess[str], command: str) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    # The program is "python -m asgibench" here, "bench" when installed.
    assert lines[0].startswith(f"python -m asgibench {command[len('bench '):]}: error: "), \
        lines[0]
    return lines[0].replace("python -m asgibench", "bench", 1)


def test_listed_in_bench() -> None:
    assert " db " in bench("--help").stdout
    listed = bench("db", "--help").stdout
    assert "init" in listed and "check" in listed


def test_sqlite_init_then_check(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/tfb.sqlite"
    missing = bench("db", "check", "--db", url)
    line = one_error_line(missing, "bench db check")
    assert line.endswith(f"{tmp_path}/tfb.sqlite does not exist: run bench db init --db {url}")
    done = bench("db", "init", "--db", url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (f"initialised SQLite {tmp_path}/tfb.sqlite: World 10000 "
                                   "rows, Fortune 12 rows (WAL mode)")
    ready = bench("db", "check", "--db", url)
    assert ready.returncode == 0, ready.stderr
    assert ready.stdout.startswith(f"ready: SQLite {tmp_path}/tfb.sqlite: World 10000 rows")


def test_default_is_the_cache_file_and_env_is_read(tmp_path: Path) -> None:
    done = bench("db", "init", env={"XDG_CACHE_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "asgibench" / "tfb.sqlite").is_file()
    other = tmp_path / "other.sqlite"
    assert bench("db", "init", env={"ASGIBENCH_DB": f"sqlite:///{other}"}).returncode == 0
    assert other.is_file()


def test_missing_tables_are_one_line(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "empty.sqlite"
    sqlite3.connect(path).execute("CREATE TABLE unrelated (x)").connection.close()
    url = f"sqlite:///{path}"
    line = one_error_line(bench("db", "check", "--db", url), "bench db check")
    assert line == ("bench db check: error: table World is missing; table Fortune is "
                    f"missing: run bench db init --db {url}")


@pytest.mark.parametrize("url", ["mysql://u:secret@h/db", "sqlite:///:memory:",
                                 "postgresql://u:secret@host/"])
def test_bad_url(url: str) -> None:
    for command in ("init", "check"):
        line = one_error_line(bench("db", command, "--db", url), f"bench db {command}")
        assert "postgresql://USER:PASS@HOST:PORT/DB" in line and "secret" not in line


def test_postgres_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://u:secret@127.0.0.1:{port}/tfb"
    for command in ("init", "check"):
        line = one_error_line(bench("db", command, "--db", url), f"bench db {command}")
        assert line.endswith(f"cannot connect to PostgreSQL at 127.0.0.1:{port}: "
                             "connection refused: is PostgreSQL running?")


def test_postgres_wrong_password_and_ready(postgres_url: str) -> None:
    from asgibench.harness import db

    good = db.parse_url(postgres_url)
    wrong = postgres_url.replace(f":{good.password}@", ":wrong-one@")
    line = one_error_line(bench("db", "check", "--db", wrong), "bench db check")
    assert f"refused user {good.user!r}: wrong password" in line and "wrong-one" not in line
    ready = bench("db", "check", "--db", postgres_url)
    assert ready.returncode == 0, ready.stderr
    assert ready.stdout.startswith(f"ready: PostgreSQL {good.host}:{good.port}/")
    assert "note: pg_stat_statements is available" in ready.stdout
    done = bench("db", "init", "--db", postgres_url)
    assert done.returncode == 0, done.stderr
    assert "World 10000 rows, Fortune 12 rows; pg_stat_statements available" in done.stdout
