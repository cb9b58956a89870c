"""TechEmpower's ``query`` test (multiple queries): ``GET /queries?queries=N`` -> N random
World rows, each read by its own query (no ``IN (...)``), as a JSON array.

N is clamped to 1..500: missing, empty, ``0`` or not a number mean 1, more than 500
means 500. The helpers here (:func:`count`, :func:`random_ids`, :func:`serialize`,
:func:`rows_check`, :func:`clamping_checks`) are shared by update and cached-query.

None of the three has a canned answer: the canned-response server's one body could not be
right at every N (nor for the clamping URLs), and query levels measure no driver ceiling
(``TestType.has_ceiling``).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from asgibench.harness.db import MAX_QUERIES, WORLD_ROWS, Database
from asgibench.harness.db import app as dbapp
from asgibench.harness.testtypes import ACCEPT_JSON, TestType
from asgibench.harness.testtypes.db import JSON_CONTENT_TYPE, row_problem

_JSON = b"application/json"
#: query and update's levels: the N of ``?queries=N``, at 512 connections.
LEVELS = (1, 5, 10, 15, 20)


def clamp(raw: bytes | str | None) -> int:
    """TechEmpower's N: an integer clamped to 1..500; anything else (missing, empty,
    ``foo``, ``1.5``) is 1."""
    if raw is None:
        return 1
    try:
        number = int(raw)
    except ValueError:
        return 1
    return 1 if number < 1 else MAX_QUERIES if number > MAX_QUERIES else number


def count(scope: Any, name: bytes = b"queries") -> int:
    """The clamped N of parameter ``name`` in the request's query string (the first
    one, when repeated)."""
    for part in scope.get("query_string", b"").split(b"&"):
        key, _, value = part.partition(b"=")
        if key == name:
            return clamp(value)
    return 1


def random_ids(n: int) -> list[int]:
    """``n`` distinct random World ids."""
    return random.sample(range(1, WORLD_ROWS + 1), n)


def serialize(rows: list[tuple[int, int]]) -> bytes:
    """Rows as TechEmpower's JSON array of ``{"id", "randomNumber"}`` objects."""
    return json.dumps([{"id": row_id, "randomNumber": number}
                       for row_id, number in rows]).encode("utf-8")


def rows_problem(body: bytes, n: int | None) -> str | None:
    """None for a JSON array of World rows: exactly ``n`` of them, or (``n`` None) any
    number in 1..500; else a one-line reason."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return f"body is not JSON: {body[:60]!r}"
    if not isinstance(value, list):
        return f"body is not a JSON array: {body[:60]!r}"
    if n is not None and len(value) != n:
        return f"body is an array of {len(value)} rows, expected {n}"
    if n is None and not 1 <= len(value) <= MAX_QUERIES:
        return f"body is an array of {len(value)} rows, expected 1..{MAX_QUERIES}"
    for index, row in enumerate(value):
        problem = row_problem(row)
        if problem:
            return f"row {index + 1}: {problem}"
    return None


def rows_check(n: int) -> Callable[[bytes], str | None]:
    """A body check: a JSON array of exactly ``n`` World rows."""

    def check(body: bytes) -> str | None:
        return rows_problem(body, n)

    check.__name__ = f"rows_check({n})"
    return check


def check_body(body: bytes) -> str | None:
    """A JSON array of 1..500 World rows (any level's; :func:`rows_check` for one N)."""
    return rows_problem(body, None)


def clamping_checks(prefix: str) -> tuple[tuple[str, Callable[[bytes], str | None]], ...]:
    """The URLs that test N's clamping, each with its check: ``0``, ``foo``, empty and
    missing mean 1, ``501`` means 500."""
    bare = prefix.partition("?")[0]
    return ((f"{prefix}0", rows_check(1)), (f"{prefix}foo", rows_check(1)),
            (prefix, rows_check(1)), (bare, rows_check(1)),
            (f"{prefix}{MAX_QUERIES + 1}", rows_check(MAX_QUERIES)))


def statements(n: int) -> dict[str, tuple[int, int]]:
    """Per request of N rows: N reads of World, each its own statement."""
    return {"world_select": (n, n), "world_update": (0, 0), "fortune_select": (0, 0)}


async def respond(db: Database, scope: Any) -> bytes:
    """The benchmark app's route: N rows, each by its own query."""
    ids = random_ids(count(scope))
    rows = await db.worlds(ids)
    if len(rows) != len(ids):
        raise LookupError("World rows are missing: run bench db init")
    return serialize(rows)


def rows_type(name: str, path: str, respond: Any,
              statements: Callable[[int], dict[str, tuple[int, int]]], *, weight: float,
              description: str, levels: tuple[int, ...] = LEVELS,
              quick_levels: tuple[int, ...] = (20,), **more: Any) -> TestType:
    """A test type that answers N World rows at ``path`` + N (query, update,
    cached-query): TechEmpower's N levels at 512 connections, ranked by the last, N
    clamped and each level's row count verified, bodies that vary (no wrk body check)."""
    return TestType(
        name=name, path=path, accept=ACCEPT_JSON, content_type=JSON_CONTENT_TYPE,
        check_body=check_body, levels=levels, quick_levels=quick_levels, ranking="last",
        weight=weight, description=description, extra_checks=clamping_checks(path),
        handler=dbapp.route(respond, _JSON), level_kind="queries", query_concurrency=512,
        database=True, statements=statements, exact_bodies=False, check_rows=rows_check,
        **more)


TEST_TYPE = rows_type(
    "query", "/queries?queries=", respond, statements, weight=0.75,
    description="N random World rows, one query each, as a JSON array")
