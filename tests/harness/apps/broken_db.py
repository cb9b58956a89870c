"""The built-in benchmark app with one database defect, chosen by ``BROKEN_DB`` (each a
way a TechEmpower implementation has been wrong); every other route is the real app's:

- ``fortune-unescaped``: /fortunes renders messages without HTML escaping;
- ``query-unclamped``: /queries answers N rows for any N (0 rows for 0, 501 for 501);
- ``update-not-persisted``: /updates answers new random numbers but writes nothing;
- ``query-in``: /queries reads its N rows with one ``SELECT ... WHERE id IN (...)``.

SQLite only (``ASGIBENCH_DB=sqlite:///...``): the IN query runs on the app's own counted
connection, as a real one would.
"""

from __future__ import annotations

import json
import os
import random
from typing import Any

from asgibench.harness.app import app as builtin
from asgibench.harness.db import FORTUNES, WORLD_ROWS
from asgibench.harness.db import app as dbapp

DEFECT = os.environ.get("BROKEN_DB", "")
DEFECTS = ("fortune-unescaped", "query-unclamped", "update-not-persisted", "query-in")
_ROUTES = {"fortune-unescaped": "/fortunes", "query-unclamped": "/queries",
           "update-not-persisted": "/updates", "query-in": "/queries"}


def _n(scope: Any, clamp: bool = True) -> int:
    for part in scope.get("query_string", b"").split(b"&"):
        key, _, value = part.partition(b"=")
        if key == b"queries":
            try:
                number = int(value)
            except ValueError:
                return 1
            return max(1, min(number, 500)) if clamp else max(number, 0)
    return 1


async def _send(send: Any, body: bytes, content_type: bytes) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", content_type),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _rows(rows: list[tuple[int, int]]) -> bytes:
    return json.dumps([{"id": i, "randomNumber": n} for i, n in rows]).encode()


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http" or scope["path"] != _ROUTES.get(DEFECT):
        await builtin(scope, receive, send)
        return
    database = await dbapp.database()
    if DEFECT == "fortune-unescaped":
        rows = sorted([*FORTUNES, (0, "Additional fortune added at request time.")],
                      key=lambda row: row[1])
        cells = "".join(f"<tr><td>{i}</td><td>{m}</td></tr>" for i, m in rows)
        page = ("<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
                f"<tr><th>id</th><th>message</th></tr>{cells}</table></body></html>")
        await _send(send, page.encode(), b"text/html; charset=utf-8")
    elif DEFECT == "query-unclamped":
        n = _n(scope, clamp=False)
        ids = random.sample(range(1, WORLD_ROWS + 1), n) if n else []
        await _send(send, _rows(await database.worlds(ids)), b"application/json")
    elif DEFECT == "update-not-persisted":
        ids = random.sample(range(1, WORLD_ROWS + 1), _n(scope))
        rows = [(i, random.randint(1, WORLD_ROWS)) for i, _ in await database.worlds(ids)]
        await _send(send, _rows(rows), b"application/json")
    elif DEFECT == "query-in":
        ids = random.sample(range(1, WORLD_ROWS + 1), _n(scope))
        marks = ",".join("?" * len(ids))
        async with database.conn.execute(  # type: ignore[attr-defined]
                f"SELECT id, randomNumber FROM World WHERE id IN ({marks})", ids) as cursor:
            rows = [(int(i), int(n)) for i, n in await cursor.fetchall()]
        await _send(send, _rows(rows), b"application/json")
