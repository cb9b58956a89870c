"""TechEmpower's ``db`` test (single query): ``GET /db`` -> one random row of ``World``,
read by one query, as the JSON object ``{"id": ..., "randomNumber": ...}``.

The row checks here (:func:`row_problem`) are shared by query, update and cached-query.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

from asgibench.harness.db import WORLD_ROWS, Database
from asgibench.harness.db import app as dbapp
from asgibench.harness.testtypes import ACCEPT_JSON, TestType

#: The Content-Type of every JSON database type: exactly ``application/json``.
JSON_CONTENT_TYPE = re.compile(r"^application/json$")
_JSON = b"application/json"
_KEYS = {"id", "randomNumber"}


def row_problem(value: Any) -> str | None:
    """None for a World row as TechEmpower prints it: an object with exactly ``id`` and
    ``randomNumber``, both integers in 1..10000; else a one-line reason."""
    if not isinstance(value, dict):
        return f"{json.dumps(value)[:60]} is not an object"
    if set(value) != _KEYS:
        return f"{json.dumps(value)[:80]} has keys {sorted(value)}, expected ['id', 'randomNumber']"
    for key in ("id", "randomNumber"):
        number = value[key]
        if isinstance(number, bool) or not isinstance(number, int):
            return f"{key} is {json.dumps(number)[:30]}, not an integer"
        if not 1 <= number <= WORLD_ROWS:
            return f"{key} is {number}, outside 1..{WORLD_ROWS}"
    return None


def check_body(body: bytes) -> str | None:
    """One World row as a JSON object (not an array of one)."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return f"body is not JSON: {body[:60]!r}"
    problem = row_problem(value)
    return f"body {problem}" if problem else None


def statements(n: int) -> dict[str, tuple[int, int]]:
    """Per request: one read of World, nothing else."""
    return {"world_select": (1, 1), "world_update": (0, 0), "fortune_select": (0, 0)}


async def respond(db: Database, scope: Any) -> bytes:
    """The benchmark app's route: one random row by one query, serialised per request."""
    row = await db.world(random.randint(1, WORLD_ROWS))
    if row is None:
        raise LookupError("a World row is missing: run bench db init")
    return json.dumps({"id": row[0], "randomNumber": row[1]}).encode("utf-8")


TEST_TYPE = TestType(
    name="db",
    path="/db",
    accept=ACCEPT_JSON,
    content_type=JSON_CONTENT_TYPE,
    check_body=check_body,
    levels=(16, 32, 64, 128, 256, 512),
    quick_levels=(128,),
    ranking="best",
    weight=0.75,
    description="one random World row by one query, as a JSON object",
    handler=dbapp.route(respond, _JSON),
    canned=(_JSON, json.dumps({"id": 4174, "randomNumber": 331}).encode("utf-8")),
    database=True,
    statements=statements,
    exact_bodies=False,
)
