"""The benchmark database layer (asgibench.harness.db) on SQLite and on PostgreSQL: URLs,
init, check, direct reads, and the statement counts verification relies on."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from asgibench.errors import BenchError
from asgibench.harness import db


def test_parse_url_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    absolute = db.parse_url(f"sqlite:///{tmp_path}/tfb.sqlite")  # sqlite:////tmp/...
    assert absolute.kind == "sqlite" and absolute.path == str(tmp_path / "tfb.sqlite")
    assert absolute.url == f"sqlite:///{tmp_path}/tfb.sqlite"
    monkeypatch.chdir(tmp_path)
    relative = db.parse_url("sqlite:///sub/../tfb.sqlite")
    assert relative.path == str(tmp_path / "tfb.sqlite")
    pg = db.parse_url("postgres://bob:s%40cret@db.local:6543/hello")
    assert (pg.kind, pg.host, pg.port, pg.user, pg.password, pg.database) == (
        "postgresql", "db.local", 6543, "bob", "s@cret", "hello")
    assert pg.url.startswith("postgresql://") and "s%40cret" not in pg.display()
    assert db.parse_url("postgresql://u@localhost/x").port == 5432


@pytest.mark.parametrize("url", ["mysql://u:p@h/db", "sqlite://", "sqlite:///",
                                 "sqlite:///:memory:", "postgresql://u:secret@host:5432/",
                                 "postgresql://u:secret@:5432/db", "tfb.sqlite",
                                 "postgresql://u:secret@host:99999/db"])
def test_parse_url_refuses(url: str) -> None:
    with pytest.raises(BenchError) as info:
        db.parse_url(url)
    message = str(info.value)
    assert "\n" not in message and "postgresql://USER:PASS@HOST:PORT/DB" in message
    assert "secret" not in message


def test_default_sqlite_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert db.default_sqlite_url() == f"sqlite:///{tmp_path}/asgibench/tfb.sqlite"


@pytest.mark.parametrize(("sql", "kind"), [
    ("SELECT id, randomNumber FROM World WHERE id = 5", "world_select"),
    ("select id, randomnumber from world where id = $1", "world_select"),
    ('SELECT * FROM "World" WHERE id IN (1, 2, 3)', "world_select"),
    ("/* app */ SELECT id FROM World", "world_select"),
    ("UPDATE World SET randomNumber = 3 WHERE id = 1", "world_update"),
    ("update world set randomnumber = $2 where id = $1", "world_update"),
    ("SELECT id, message FROM Fortune", "fortune_select"),
    ("SELECT id FROM worldwide", None),
    ("BEGIN IMMEDIATE", None),
    ("INSERT INTO World VALUES (1, 2)", None),
    (f"SELECT id, randomnumber, 1 AS {db.VERIFY_MARKER} FROM world", None),
])
def test_classify(sql: str, kind: str | None) -> None:
    assert db.classify(sql) == kind


def test_fortunes_are_techempowers() -> None:
    assert [row_id for row_id, _ in db.FORTUNES] == list(range(1, 13))
    messages = dict(db.FORTUNES)
    assert messages[11] == ('<script>alert("This should not be displayed in a browser '
                            'alert box.");</script>')
    assert messages[12] == "フレームワークのベンチマーク"
    assert db.ADDED_FORTUNE == (0, "Additional fortune added at request time.")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A seeded database of each kind; the PostgreSQL one is re-seeded afterwards, for
    the tests that follow."""
    if request.param == "sqlite":
        target = f"sqlite:///{tmp_path}/tfb.sqlite"
        db.init_sync(target)
        yield target
        return
    target = request.getfixturevalue("postgres_url")
    yield target
    if db.check_sync(target):
        db.init_sync(target)


def test_init_and_check(url: str) -> None:
    status = db.status_sync(url)
    assert status.ready and status.reachable, status.problems
    assert "World 10000 rows, Fortune 12 rows" in status.summary
    summary = db.init_sync(url)  # idempotent: recreated
    assert "World 10000 rows, Fortune 12 rows" in summary
    assert db.check_sync(url) == []
    if url.startswith("postgresql"):
        assert any("pg_stat_statements is available" in n for n in status.notes)


def _execute(url: str, sql: str) -> None:
    async def run() -> None:
        database = await db.connect(url)
        try:
            if database.kind == "sqlite":
                await database.conn.execute(sql)  # type: ignore[attr-defined]
            else:
                await database.pool.execute(sql)  # type: ignore[attr-defined]
        finally:
            await database.close()

    asyncio.run(run())


def test_check_finds_a_missing_table(url: str) -> None:
    _execute(url, "DROP TABLE Fortune")
    problems = db.check_sync(url)
    shown = db.parse_url(url).display()
    assert problems == [f"table Fortune is missing: run bench db init --db {shown}"]
    _execute(url, "DELETE FROM World WHERE id > 9990")
    problems = db.check_sync(url)
    assert len(problems) == 2 and "table World holds 9990 rows" in problems[0]
    db.init_sync(url)
    assert db.check_sync(url) == []


def test_read_world(url: str) -> None:
    rows = db.read_world_sync(url)
    assert sorted(rows) == list(range(1, db.WORLD_ROWS + 1))
    assert all(1 <= number <= db.WORLD_ROWS for number in rows.values())
    assert len(set(rows.values())) > 1000  # random, not one value
    some = db.read_world_sync(url, [3, 1, 3, 9999])
    assert some == {1: rows[1], 3: rows[3], 9999: rows[9999]}


def test_statements_are_counted_one_per_execution(url: str) -> None:
    """Each row read by its own query counts 1 each; one ``IN (...)`` query counts 1 for
    all its rows; a batched update counts one per row; the harness's reads never."""

    async def run() -> tuple[dict[str, int], list[tuple[int, int]]]:
        database = await db.connect(url)
        try:
            before = _counts(database, await db.statement_counts(url))
            await database.worlds([1, 2, 3, 4, 5])
            in_query = "SELECT id, randomNumber FROM World WHERE id IN (6, 7, 8, 9)"
            if database.kind == "sqlite":
                assert len(await database.conn.execute_fetchall(in_query)) == 4  # type: ignore[attr-defined]
            else:
                assert len(await database.pool.fetch(in_query)) == 4  # type: ignore[attr-defined]
            rows = await database.update_worlds([10, 11, 12], lambda old: old % 10000 + 1)
            await database.fortunes()
            await db.read_world(url, [1, 2, 3])
            after = _counts(database, await db.statement_counts(url))
        finally:
            await database.close()
        return {key: after[key] - before[key] for key in db.COUNT_KEYS}, rows

    old = db.read_world_sync(url, [10, 11, 12])
    delta, rows = asyncio.run(run())
    assert delta == {"world_select": 5 + 1 + 3, "world_update": 3, "fortune_select": 1}
    # The update persisted: read back directly.
    assert db.read_world_sync(url, [10, 11, 12]) == dict(rows)
    assert all(dict(rows)[i] == old[i] % 10000 + 1 for i in old)


def _counts(database: db.Database, server: dict[str, int] | None) -> dict[str, int]:
    """SQLite: the connection's own counts; PostgreSQL: pg_stat_statements'."""
    counts = database.counts() if database.kind == "sqlite" else server
    assert counts is not None, "no statement counts"
    return counts


def test_sqlite_statement_counts_come_from_the_app(tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path}/tfb.sqlite"
    db.init_sync(target)
    assert db.statement_counts_sync(target) is None


def test_sqlite_errors_are_one_line(tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path}/none/tfb.sqlite"
    problems = db.check_sync(missing)
    assert problems == [f"the SQLite database {tmp_path}/none/tfb.sqlite does not exist: "
                        f"run bench db init --db {missing}"]
    with pytest.raises(BenchError, match="does not exist: run bench db init"):
        asyncio.run(db.connect(missing))
    (tmp_path / "blocker").write_text("a file, not a directory")
    with pytest.raises(BenchError, match="cannot create the SQLite database"):
        db.init_sync(f"sqlite:///{tmp_path}/blocker/tfb.sqlite")
    (tmp_path / "junk.sqlite").write_bytes(b"not a database" * 100)
    problems = db.check_sync(f"sqlite:///{tmp_path}/junk.sqlite")
    assert len(problems) == 1 and "\n" not in problems[0]


def test_postgres_connection_errors(postgres_url: str) -> None:
    good = db.parse_url(postgres_url)
    wrong_password = postgres_url.replace(f":{good.password}@", ":not-the-password@")
    problems = db.check_sync(wrong_password)
    assert len(problems) == 1 and "wrong password" in problems[0], problems
    assert "not-the-password" not in problems[0]
    with pytest.raises(BenchError, match="wrong password"):
        db.init_sync(wrong_password)
    no_db = postgres_url.rsplit("/", 1)[0] + "/no_such_database"
    assert "has no database 'no_such_database'" in db.check_sync(no_db)[0]
    refused = f"postgresql://u:p@127.0.0.1:{_closed_port()}/x"
    message = db.check_sync(refused)[0]
    assert "connection refused: is PostgreSQL running?" in message
    assert f"127.0.0.1:{db.parse_url(refused).port}" in message


def test_postgres_pool_size(monkeypatch: pytest.MonkeyPatch) -> None:
    from asgibench.harness.db import postgresql

    monkeypatch.delenv(db.POOL_ENV, raising=False)
    assert postgresql.pool_size() == db.DEFAULT_POOL == 32
    monkeypatch.setenv(db.POOL_ENV, "4")
    assert postgresql.pool_size() == 4
    monkeypatch.setenv(db.POOL_ENV, "lots")
    with pytest.raises(BenchError, match="ASGIBENCH_DB_POOL='lots' is not a pool size"):
        postgresql.pool_size()


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_no_driver_is_imported_until_a_database_is_used() -> None:
    import subprocess
    import sys

    code = ("import sys; import asgibench.harness.db, asgibench.harness.db.app, "
            "asgibench.harness.app; print(sorted(m for m in ('aiosqlite', 'asyncpg') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "ASGIBENCH_DB": ""}, check=True)
    assert out.stdout.strip() == "[]"
