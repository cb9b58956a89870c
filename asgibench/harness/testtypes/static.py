"""HttpArena-style ``static``: files of 1 KiB to 1 MiB served by the app from disk, in a
weighted mix (small files most often, as on a real site); verified byte-exact.

Where the server offers the ASGI ``http.response.pathsend`` extension (asgibench's own
server, granian) the app hands it the file's path and the server sends the file;
elsewhere the app reads the file and sends it as the body in 64 KiB messages, as
Starlette's ``FileResponse`` does. The files are written on first use in the user's
cache directory, the same bytes on every machine (``files_dir()``).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from asgibench.harness.testtypes import TestType
from asgibench.harness.workloads import Request, Workload

PREFIX = "/static/"
#: name -> (size, weight): small files are the most requested.
FILES: dict[str, tuple[int, int]] = {
    "1k.bin": (1024, 8), "4k.bin": (4 * 1024, 6), "16k.bin": (16 * 1024, 4),
    "64k.bin": (64 * 1024, 3), "256k.bin": (256 * 1024, 2), "1m.bin": (1024 * 1024, 1),
}
_CHUNK = 64 * 1024
_TYPE = (b"content-type", b"application/octet-stream")
_VERSION = 1  # bump when the contents change: a new directory, never stale files


@functools.cache
def content(name: str) -> bytes:
    """The bytes of file ``name``: deterministic, incompressible."""
    return hashlib.shake_256(f"asgibench static {name}".encode()).digest(FILES[name][0])


@functools.cache
def files_dir() -> Path:
    """The directory holding the files: the user's cache directory (``$XDG_CACHE_HOME``
    or ``~/.cache``, ``asgibench/static-N``), or a private temporary one where that
    cannot be written. Each file is (re)written when missing or different, atomically
    (a unique scratch file renamed into place), so concurrent servers never read half a
    file."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                             ".cache")
    where = Path(cache) / "asgibench" / f"static-{_VERSION}"
    try:
        where.mkdir(parents=True, exist_ok=True)
        _write_files(where)
    except OSError:
        where = Path(tempfile.mkdtemp(prefix="asgibench-static-"))
        _write_files(where)
    return where


def _write_files(where: Path) -> None:
    for name in FILES:
        path = where / name
        want = content(name)
        try:
            if path.read_bytes() == want:
                continue
        except OSError:
            pass
        with tempfile.NamedTemporaryFile(dir=where, prefix=f".{name}.", delete=False) as out:
            out.write(want)
        os.replace(out.name, path)


async def handle(scope: Any, receive: Any, send: Any) -> None:
    """The benchmark app's route for every file."""
    path = files_dir() / scope["path"][len(PREFIX):]
    size = path.stat().st_size
    await send({"type": "http.response.start", "status": 200,
                "headers": [_TYPE, (b"content-length", str(size).encode())]})
    if "http.response.pathsend" in (scope.get("extensions") or {}):
        await send({"type": "http.response.pathsend", "path": str(path)})
        return
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            more = handle.tell() < size
            await send({"type": "http.response.body", "body": chunk, "more_body": more})
            if not more:
                return


def check_body(body: bytes) -> str | None:
    """Under load: exactly one of the files."""
    if any(body == content(name) for name in FILES if FILES[name][0] == len(body)):
        return None
    return f"a {len(body)}-byte body that is none of the files"


def _exact(name: str) -> Any:
    want = content(name)

    def check(headers: Any, body: bytes) -> str | None:
        if body == want:
            return None
        return f"{len(body)} bytes that differ from {name} ({len(want)} bytes)"
    return check


def requests(names: tuple[str, ...] = tuple(FILES)) -> tuple[Request, ...]:
    return tuple(Request("GET", PREFIX + name, (("Accept", "*/*"),), expect_status=200,
                         weight=FILES[name][1], check_exact=_exact(name))
                 for name in names)


def _workload() -> Workload:
    return Workload("static", requests(), source="built-in")


TEST_TYPE = TestType(
    name="static",
    path=PREFIX + "1k.bin",
    accept="*/*",
    content_type=re.compile(r"^application/octet-stream$"),
    check_body=check_body,
    levels=(16, 64, 256),
    quick_levels=(64,),
    description="files of 1 KiB to 1 MiB, weighted towards small ones (pathsend where "
                "the server offers it)",
    routes=tuple((PREFIX + name, handle) for name in FILES),
    workload_source=_workload,
)
