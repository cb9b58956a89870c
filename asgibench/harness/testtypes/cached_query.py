"""TechEmpower's ``cached-query`` test: ``GET /cached-queries?count=N`` -> N random World
rows from an in-process cache, as a JSON array, serialised per request.

The cache holds every World row, read from the database once per server process (at
lifespan startup, or on first use where the server runs no lifespan), so the type needs
the database (``database=True``) like the others, though it sends no query per request.
N (``count``) is clamped to 1..500 as query's.
"""

from __future__ import annotations

from typing import Any

from asgibench.harness.db import Database
from asgibench.harness.db import app as dbapp
from asgibench.harness.testtypes.query import (
    count,
    random_ids,
    rows_type,
    serialize,
)

_JSON = b"application/json"
LEVELS = (1, 10, 20, 50, 100)


def statements(n: int) -> dict[str, tuple[int, int]]:
    """Per request: none (the cache was filled before)."""
    return {"world_select": (0, 0), "world_update": (0, 0), "fortune_select": (0, 0)}


async def respond(db: Database, scope: Any) -> bytes:
    """The benchmark app's route: N rows from the cache, no query."""
    cache = await dbapp.world_cache()
    return serialize([cache[row_id] for row_id in random_ids(count(scope, b"count"))])


TEST_TYPE = rows_type(
    "cached-query", "/cached-queries?count=", respond, statements, weight=1.0,
    levels=LEVELS, quick_levels=(100,),
    description="N random World rows from an in-process cache, as a JSON array")
