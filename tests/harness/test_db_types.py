"""The five database test types (db, query, fortune, update, cached-query) served by the
benchmark app on real servers, against SQLite and PostgreSQL: bodies pass their checks,
N is clamped, updates persist, statements are counted; and the app without a database."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from asgibench.harness import db, testtypes
from asgibench.harness.httpclient import Client, Response
from asgibench.harness.testtypes import fortune, query

from .conftest import free_port, stop, wait_listening

DB_TYPES = ("db", "query", "fortune", "update", "cached-query")
STATS = "/__asgibench/db-stats"


def serve(url: str | None, log: Path, *argv: str, workers: int = 1) -> tuple[int, Any]:
    """``bench serve asgibench.harness.app:app`` (or ``argv`` with PORT filled in) with
    ``ASGIBENCH_DB=url``."""
    port = free_port()
    env = {**os.environ, db.POOL_ENV: "4"}
    env.pop(db.ENV, None)
    if url is not None:
        env[db.ENV] = url
    command = [a.replace("PORT", str(port)) for a in argv] or [
        sys.executable, "-m", "asgibench", "serve", "asgibench.harness.app:app",
        "--port", str(port), "--workers", str(workers), "--no-access-log"]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_listening(port, proc)
    except RuntimeError as exc:
        proc.kill()
        proc.wait()
        raise RuntimeError(f"{exc}: {log.read_text()[-2000:]}") from None
    return port, proc


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    """(port, database URL): the benchmark app on ``bench serve`` with each database."""
    where = tmp_path_factory.mktemp(request.param)
    if request.param == "sqlite":
        url = f"sqlite:///{where}/tfb.sqlite"
        db.init_sync(url)
    else:
        url = request.getfixturevalue("postgres_url")
    port, proc = serve(url, where / "server.log")
    yield port, url
    stop(proc)


def get(port: int, *paths: str) -> list[Response]:
    """Each path in turn on one keep-alive connection."""
    with Client("127.0.0.1", port) as client:
        return [client.get(path, "*/*")[0] for path in paths]


@pytest.mark.parametrize("name", DB_TYPES)
def test_each_type_passes_its_checks(served: tuple[int, str], name: str) -> None:
    port, _ = served
    test = testtypes.get(name)
    assert test.database
    urls = [test.path, *(test.level_path(level) for level in test.levels),
            *(url for url, _ in test.extra_checks)]
    checks = [test.check_body,
              *(query.rows_check(level) if test.level_kind == "queries" else
                test.check_body for level in test.levels),
              *(check for _, check in test.extra_checks)]
    for url, check, response in zip(urls, checks, get(port, *urls), strict=True):
        assert response.status == 200, (url, response.body)
        content_type = response.values("content-type")
        assert len(content_type) == 1 and test.content_type.fullmatch(content_type[0]), url
        assert response.values("content-length") == [str(len(response.body))]
        assert check(response.body) is None, (url, check(response.body))
    if name == "fortune":
        assert response.body == fortune.reference_page()


def test_clamping(served: tuple[int, str]) -> None:
    port, _ = served
    cases = {"0": 1, "foo": 1, "": 1, "-4": 1, "1.5": 1, "7": 7, "500": 500, "501": 500,
             "100000": 500}
    for prefix in ("/queries?queries=", "/updates?queries=", "/cached-queries?count="):
        paths = [prefix + raw for raw in cases] + [prefix.partition("?")[0],
                                                   prefix.replace("=", "s=") + "9"]
        lengths = [len(json.loads(r.body)) for r in get(port, *paths)]
        assert lengths == [*cases.values(), 1, 1], prefix


def test_update_persists(served: tuple[int, str]) -> None:
    port, url = served
    response, = get(port, "/updates?queries=20")
    rows = {row["id"]: row["randomNumber"] for row in json.loads(response.body)}
    assert len(rows) == 20
    assert db.read_world_sync(url, rows) == rows
    # A second update of the same table changes what is read back.
    before = db.read_world_sync(url)
    after_rows = {row["id"]: row["randomNumber"]
                  for r in get(port, *["/updates?queries=50"] * 4)
                  for row in json.loads(r.body)}
    after = db.read_world_sync(url)
    assert {i for i in before if before[i] != after[i]} == set(after_rows)


def _counts(port: int, url: str, client: Client) -> dict[str, int]:
    if url.startswith("sqlite"):
        response = client.get(STATS, "*/*")[0]
        assert response.values("x-asgibench-database") == ["sqlite"]
        assert int(response.values("x-asgibench-pid")[0]) > 0
        return json.loads(response.body)  # type: ignore[no-any-return]
    counts = db.statement_counts_sync(url)
    assert counts is not None, "pg_stat_statements is not available"
    return counts


@pytest.mark.parametrize(("path", "expected"), [
    ("/db", {"world_select": 1}),
    ("/queries?queries=7", {"world_select": 7}),
    ("/queries?queries=501", {"world_select": 500}),
    ("/fortunes", {"fortune_select": 1}),
    ("/updates?queries=5", {"world_select": 5, "world_update": 5}),
    ("/cached-queries?count=50", {}),
])
def test_statement_counts(served: tuple[int, str], path: str,
                          expected: dict[str, int]) -> None:
    """SQLite: the worker's own counts (db-stats on the same keep-alive connection);
    PostgreSQL: pg_stat_statements."""
    port, url = served
    with Client("127.0.0.1", port) as client:
        client.get("/cached-queries?count=1", "*/*")  # the cache is filled by now
        before = _counts(port, url, client)
        assert client.get(path, "*/*")[0].status == 200
        after = _counts(port, url, client)
    delta = {key: after[key] - before[key] for key in db.COUNT_KEYS}
    assert delta == {key: expected.get(key, 0) for key in db.COUNT_KEYS}


def test_postgres_stats_route_has_no_counts(postgres_url: str, tmp_path: Path) -> None:
    port, proc = serve(postgres_url, tmp_path / "server.log")
    try:
        response, = get(port, STATS)
    finally:
        stop(proc)
    assert response.values("x-asgibench-database") == ["postgresql"]
    assert json.loads(response.body) is None


def test_sqlite_workers_share_the_file(tmp_path: Path) -> None:
    """Two worker processes updating the same file concurrently: WAL and the busy timeout
    mean no request fails."""
    url = f"sqlite:///{tmp_path}/tfb.sqlite"
    db.init_sync(url)
    port, proc = serve(url, tmp_path / "server.log", workers=2)
    statuses: list[int] = []
    pids: set[int] = set()

    def hammer() -> None:
        with Client("127.0.0.1", port) as client:
            for _ in range(15):
                statuses.append(client.get("/updates?queries=20", "*/*")[0].status)
            pids.add(int(client.get(STATS, "*/*")[0].values("x-asgibench-pid")[0]))

    try:
        threads = [threading.Thread(target=hammer) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        for _ in range(100):  # which worker answers a new connection is the kernel's call
            if len(pids) > 1:
                break
            with Client("127.0.0.1", port) as client:
                pids.add(int(client.get(STATS, "*/*")[0].values("x-asgibench-pid")[0]))
    finally:
        stop(proc)
    assert statuses == [200] * 120, (tmp_path / "server.log").read_text()[-2000:]
    assert len(pids) == 2, "both worker processes served (and shared the file)"
    assert db.check_sync(url) == []


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
@pytest.mark.parametrize("loop", ["asyncio", "rloop"])
def test_other_loops_serve_the_database_types(loop: str, database: str,
                                              request: pytest.FixtureRequest,
                                              tmp_path: Path) -> None:
    """The drivers' threads and transports on loops other than uvloop (``served``):
    aiosqlite hands results back with call_soon_threadsafe, asyncpg swaps protocols."""
    from asgibench import loops

    if not loops.LOOPS.plugin(loop).available()[0]:
        pytest.skip(f"{loop} is not available here")
    if database == "sqlite":
        url = f"sqlite:///{tmp_path}/tfb.sqlite"
        db.init_sync(url)
    else:
        url = request.getfixturevalue("postgres_url")
    port, proc = serve(url, tmp_path / "server.log", sys.executable, "-m", "asgibench",
                       "serve", "asgibench.harness.app:app", "--port", "PORT", "--loop",
                       loop, "--no-access-log")
    try:
        responses = get(port, *(testtypes.get(name).level_path(20) for name in DB_TYPES))
    finally:
        stop(proc)
    for name, response in zip(DB_TYPES, responses, strict=True):
        assert response.status == 200, (loop, name, response.body)
        assert testtypes.get(name).check_body(response.body) is None, (loop, name)


@pytest.mark.parametrize("peer", ["uvicorn", "hypercorn", "granian"])
def test_peers_serve_the_database_types(peer: str, tmp_path: Path) -> None:
    pytest.importorskip(peer)
    url = f"sqlite:///{tmp_path}/tfb.sqlite"
    db.init_sync(url)
    argv = {
        "uvicorn": [sys.executable, "-m", "uvicorn", "asgibench.harness.app:app",
                    "--port", "PORT", "--log-level", "warning"],
        "hypercorn": [sys.executable, "-m", "hypercorn", "asgibench.harness.app:app",
                      "--bind", "127.0.0.1:PORT"],
        "granian": [sys.executable, "-m", "granian", "--interface", "asgi", "--port",
                    "PORT", "asgibench.harness.app:app"],
    }[peer]
    port, proc = serve(url, tmp_path / "server.log", *argv)
    try:
        paths = ["/db", "/queries?queries=20", "/fortunes", "/updates?queries=20",
                 "/cached-queries?count=100"]
        responses = get(port, *paths)
    finally:
        stop(proc)
    for name, response in zip(DB_TYPES, responses, strict=True):
        assert response.status == 200, (peer, name, response.body)
        assert testtypes.get(name).check_body(response.body) is None, (peer, name)


async def call(app: Any, path: str, query_string: bytes = b"") -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "path": path, "method": "GET", "headers": [],
               "query_string": query_string}, receive, send)
    return sent[0]["status"], sent[1]["body"]


def test_without_a_database_the_app_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from asgibench.harness.app import app

    monkeypatch.delenv(db.ENV, raising=False)
    for path in ("/db", "/queries", "/fortunes", "/updates", "/cached-queries", STATS):
        status, body = asyncio.run(call(app, path))
        assert status == 500 and body.startswith(b"ASGIBENCH_DB is not set"), path
        assert b"\n" not in body
    assert asyncio.run(call(app, "/json"))[0] == 200


def test_the_app_runs_without_the_drivers(tmp_path: Path) -> None:
    """Neither aiosqlite nor asyncpg installed: plaintext and json still served, lifespan
    completes without a database, a database route says what is missing."""
    code = """
import asyncio, sys
sys.modules["aiosqlite"] = None
sys.modules["asyncpg"] = None
from asgibench.harness.app import app

async def call(scope, inbox):
    sent = []
    async def receive():
        return inbox.pop(0)
    async def send(message):
        sent.append(message)
    await app(scope, receive, send)
    return sent

def get(path):
    scope = {"type": "http", "path": path, "method": "GET", "headers": [],
             "query_string": b""}
    return asyncio.run(call(scope, [{"type": "http.request", "body": b""}]))

lifespan = asyncio.run(call({"type": "lifespan"}, [{"type": "lifespan.startup"},
                                                   {"type": "lifespan.shutdown"}]))
print([m["type"] for m in lifespan])
print(get("/json")[0]["status"], get("/plaintext")[0]["status"])
print(get("/db")[1]["body"].decode())
"""
    env = {k: v for k, v in os.environ.items() if k != db.ENV}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout.splitlines()
    assert out[0] == "['lifespan.startup.complete', 'lifespan.shutdown.complete']"
    assert out[1] == "200 200"
    assert out[2].startswith("ASGIBENCH_DB is not set")
    (tmp_path / "tfb.sqlite").touch()
    env[db.ENV] = f"sqlite:///{tmp_path}/tfb.sqlite"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout.splitlines()
    assert out[0] == "['lifespan.startup.failed']"
    assert out[1] == "200 200"
    assert out[2] == ("database error: the SQLite database needs aiosqlite: "
                      "pip install aiosqlite")


def test_lifespan_fails_when_the_database_cannot_be_used(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from asgibench.harness.app import app

    monkeypatch.setenv(db.ENV, f"sqlite:///{tmp_path}/missing.sqlite")

    async def run() -> list[dict[str, Any]]:
        inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        out: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return inbox.pop(0)

        async def send(message: dict[str, Any]) -> None:
            out.append(message)

        await app({"type": "lifespan"}, receive, send)
        return out

    messages = asyncio.run(run())
    assert messages[0]["type"] == "lifespan.startup.failed"
    assert messages[0]["message"] == (f"the SQLite database {tmp_path}/missing.sqlite does "
                                      f"not exist: run bench db init --db "
                                      f"sqlite:///{tmp_path}/missing.sqlite")


def test_lifespan_connects_and_fills_the_cache(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    from asgibench.harness.app import app
    from asgibench.harness.db import app as dbapp

    url = f"sqlite:///{tmp_path}/tfb.sqlite"
    db.init_sync(url)
    monkeypatch.setenv(db.ENV, url)

    async def run() -> tuple[list[str], dict[str, int] | None, int]:
        inbox = [{"type": "lifespan.startup"}]
        out: list[str] = []
        started = asyncio.Event()
        stop_now = asyncio.Event()

        async def receive() -> dict[str, Any]:
            if inbox:
                return inbox.pop(0)
            await stop_now.wait()
            return {"type": "lifespan.shutdown"}

        async def send(message: dict[str, Any]) -> None:
            out.append(message["type"])
            started.set()

        task = asyncio.ensure_future(app({"type": "lifespan"}, receive, send))
        await started.wait()
        database = await dbapp.database()
        counts = database.counts()
        cached = len(await dbapp.world_cache())
        status, _ = await call(app, "/cached-queries", b"count=3")
        assert status == 200
        stop_now.set()
        await task
        return out, counts, cached

    out, counts, cached = asyncio.run(run())
    assert out == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert counts == {"world_select": 1, "world_update": 0, "fortune_select": 0}
    assert cached == db.WORLD_ROWS + 1
