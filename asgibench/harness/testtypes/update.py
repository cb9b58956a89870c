"""TechEmpower's ``update`` test: ``GET /updates?queries=N`` -> N random World rows, each
read by its own query, given a new random number and written back; the response is the
rows as updated, a JSON array.

The writes may be batched: here one ``executemany`` in one transaction, rows sorted by
id so that concurrent updates of the same rows never deadlock. N is clamped as query's.
The new number always differs from the old one, so every row updated really changes.
"""

from __future__ import annotations

import random
from typing import Any

from asgibench.harness.db import WORLD_ROWS, Database
from asgibench.harness.testtypes.query import (
    count,
    random_ids,
    rows_type,
    serialize,
)

_JSON = b"application/json"


def new_number(old: int) -> int:
    """A random number in 1..10000 other than ``old``."""
    number = random.randint(1, WORLD_ROWS - 1)
    return number + 1 if number >= old else number


def statements(n: int) -> dict[str, tuple[int, int]]:
    """Per request of N rows: N reads of World, each its own statement; the writes may
    be batched, so 1..N statements write (this app's ``executemany`` runs N)."""
    return {"world_select": (n, n), "world_update": (1, n), "fortune_select": (0, 0)}


async def respond(db: Database, scope: Any) -> bytes:
    """The benchmark app's route: N rows read one by one, updated in one batch."""
    ids = random_ids(count(scope))
    rows = await db.update_worlds(ids, new_number)
    if len(rows) != len(ids):
        raise LookupError("World rows are missing: run bench db init")
    return serialize(rows)


TEST_TYPE = rows_type(
    "update", "/updates?queries=", respond, statements, weight=1.25, writes=True,
    description="N random World rows read one by one, each updated, written back")
