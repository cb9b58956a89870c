"""The ASGI ``http.response.pathsend`` extension (docs/server.md, "Path send"): advertised in
every HTTP scope; the file's bytes end the response, framed by the app's Content-Length or
else chunked (close-delimited for HTTP/1.0); errors before the head went out are a 500."""

from __future__ import annotations

import logging
import os
import random
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from . import apps
from .client import RawClient, get, http_request
from .conftest import LOOP_COMBOS, wait_until

KIB = 1024
MIB = 1024 * KIB


def _content(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


class PathSendApp:
    """``/file?name=N[&cl=0|+D][&prefix=P]``: pathsend ``root/N`` after a head with its
    Content-Length (``cl=0``: none; ``cl=+D``: the size plus D), optionally after a body
    part ``P`` sent with ``more_body``. ``/abs?path=P``: pathsend ``P`` as given.
    ``/plain``: a plain ``ok``. Records scopes; ``done`` counts pathsends that returned."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.scopes: list[dict[str, Any]] = []
        self.done = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return await apps.lifespan_protocol(receive, send)
        self.scopes.append(scope)
        query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
        if scope["path"] == "/plain":
            return await apps.respond(send, b"ok")
        if scope["path"] == "/abs":
            path = query["path"]
            prefix = b""
            headers = []
        else:
            path = str(self.root / query["name"])
            prefix = query.get("prefix", "").encode()
            cl = query.get("cl", "+0")
            headers = [(b"content-type", b"application/octet-stream")]
            if cl != "0":
                length = len(prefix) + os.path.getsize(path) + int(cl)
                headers.append((b"content-length", b"%d" % length))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if prefix:
            await send({"type": "http.response.body", "body": prefix, "more_body": True})
        await send({"type": "http.response.pathsend", "path": path})
        self.done += 1


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    root = tmp_path_factory.mktemp("pathsend")
    contents = {
        "small": _content(KIB, 1),
        "large": _content(MIB, 2),
        "odd": _content(3 * 256 * KIB + 12345, 3),  # several pieces plus a short last one
        "empty": b"",
    }
    for name, data in contents.items():
        (root / name).write_bytes(data)
    (root / "subdir").mkdir()
    contents["<root>"] = str(root).encode()
    return contents


@pytest.fixture
def app(files: dict[str, bytes]) -> PathSendApp:
    return PathSendApp(Path(files["<root>"].decode()))


def _tracebacks(caplog, exc_type: type[BaseException]) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name.startswith("asgibench") and r.exc_info and isinstance(r.exc_info[1], exc_type)
    ]


def test_extension_is_advertised(serve, app):
    srv = serve(app)
    assert srv.request(get("/plain")).status == 200
    assert srv.request(get("/plain", version="1.0")).status == 200
    assert len(app.scopes) == 2
    for scope in app.scopes:
        assert scope["extensions"]["http.response.pathsend"] == {}


@pytest.mark.parametrize("name", ["small", "large", "odd", "empty"])
def test_file_with_content_length(serve, app, files, name):
    srv = serve(app)
    response = srv.request(get(f"/file?name={name}"))
    assert response.status == 200
    assert response.header("content-length") == b"%d" % len(files[name])
    assert response.header("transfer-encoding") is None
    assert response.body == files[name]
    assert response.header("content-type") == b"application/octet-stream"


@pytest.mark.parametrize("name", ["small", "large", "odd", "empty"])
def test_file_without_content_length_is_chunked(serve, app, files, name):
    srv = serve(app)
    with srv.client() as client:
        client.send(get(f"/file?name={name}&cl=0"))
        response = client.read_final()
        assert response.chunked
        assert response.header("content-length") is None
        assert response.body == files[name]
        assert response.raw_body.endswith(b"0\r\n\r\n")
        assert client.is_open(0.05), "a chunked pathsend response keeps the connection"


def test_file_without_content_length_on_http10_is_close_delimited(serve, app, files):
    srv = serve(app)
    with srv.client() as client:
        client.send(get("/file?name=large&cl=0", version="1.0"))
        response = client.read_final()
    assert response.close_delimited
    assert response.body == files["large"]


def test_file_after_a_body_part(serve, app, files):
    """A pathsend after ``more_body`` parts ends the body; the length counts both."""
    srv = serve(app)
    with srv.client() as client:
        client.send(get("/file?name=large&prefix=head-") + get("/file?name=small&cl=0&prefix=x"))
        first, second = client.read_responses(2)
    assert first.body == b"head-" + files["large"]
    assert second.chunked and second.body == b"x" + files["small"]


@pytest.mark.parametrize("with_length", [True, False], ids=["content-length", "no-length"])
def test_head_sends_no_body(serve, app, files, with_length):
    srv = serve(app)
    with srv.client() as client:
        client.send(http_request("HEAD", "/file?name=large" + ("" if with_length else "&cl=0")))
        response = client.read_final(head=True)
        assert response.status == 200
        expected = b"%d" % len(files["large"]) if with_length else None
        assert response.header("content-length") == expected
        assert response.header("transfer-encoding") is None
        # Nothing after the head: the next response on the connection starts right there.
        client.send(get("/plain"))
        after = client.read_final()
        assert (after.status, after.body) == (200, b"ok")
        assert client.buf == b""


@pytest.mark.parametrize(
    "target, exc_type",
    [
        ("/abs?path={root}/missing", FileNotFoundError),
        ("/abs?path=relative/missing", FileNotFoundError),
        ("/abs?path={root}/subdir", OSError),  # IsADirectoryError, or refused as not a file
        ("/file?name=small&cl=%2B1", RuntimeError),  # the file is shorter than declared
        ("/file?name=small&cl=-1", RuntimeError),  # longer than declared
    ],
    ids=["missing", "relative", "directory", "shorter", "longer"],
)
def test_unsendable_path_gives_500_and_close(serve, app, files, caplog, target, exc_type):
    srv = serve(app)
    target = target.format(root=files["<root>"].decode())
    with srv.client() as client:
        client.send(get(target) + get("/plain"))
        response = client.read_final()
        assert response.status == 500
        assert response.header("connection") == b"close"
        rest = client.read_until_eof()
    assert rest == b"", "the pipelined request after a 500 is not answered"
    if exc_type is OSError:
        assert _tracebacks(caplog, OSError) or _tracebacks(caplog, RuntimeError)
    else:
        assert _tracebacks(caplog, exc_type), "no traceback logged for the failed pathsend"
    assert srv.request(get("/plain")).status == 200  # and the server goes on


def test_a_relative_path_is_opened_against_the_working_directory(serve, app, files,
                                                                 monkeypatch):
    """Starlette's FileResponse("static/x") passes its path unchanged: it is served."""
    monkeypatch.chdir(files["<root>"].decode())
    srv = serve(app)
    response = srv.request(get("/abs?path=large"))
    assert response.status == 200 and response.body == files["large"]


def test_head_of_a_missing_file_gives_500_too(serve, app, files):
    srv = serve(app)
    target = "/abs?path=" + files["<root>"].decode() + "/missing"
    response = srv.request(http_request("HEAD", target), head=True)
    assert response.status == 500


def test_keep_alive_after_pathsend(serve, app, files):
    srv = serve(app)
    with srv.client() as client:
        for target, expected in [
            ("/file?name=large", files["large"]),
            ("/file?name=small&cl=0", files["small"]),
            ("/plain", b"ok"),
            ("/file?name=small", files["small"]),
        ]:
            client.send(get(target))
            response = client.read_final()
            assert (response.status, response.body) == (200, expected), target
        assert client.is_open(0.05)


def test_pipelined_after_pathsend_in_order(serve, app, files):
    srv = serve(app)
    targets = [
        ("/file?name=large", files["large"]),
        ("/plain", b"ok"),
        ("/file?name=small&cl=0", files["small"]),
        ("/file?name=odd", files["odd"]),
        ("/file?name=small", files["small"]),
        ("/plain", b"ok"),
    ]
    with srv.client() as client:
        client.send(b"".join(get(t) for t, _ in targets))
        responses = client.read_responses(len(targets))
        assert [(r.status, r.body) for r in responses] == [(200, b) for _, b in targets]
        assert client.is_open(0.05)


@pytest.fixture(scope="module")
def huge_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pathsend-huge") / "huge"
    with open(path, "wb") as out:
        for index in range(64):
            out.write(apps.stream_block(index))
    return path


def _read_offset(path: Path) -> int | None:
    """Where this process's open descriptor of ``path`` is (Linux); None if not open."""
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                with open(f"/proc/self/fdinfo/{fd}") as info:
                    for line in info:
                        if line.startswith("pos:"):
                            return int(line.split()[1])
        except OSError:
            continue
    return None


@pytest.mark.parametrize("combo", LOOP_COMBOS)  # back-pressure is the transport's
def test_slow_reader_holds_the_file_back(serve, huge_file):
    """64 MiB to a client that reads nothing: the server reads the file only as fast as
    the client takes it, not into its own buffers."""
    app = PathSendApp(huge_file.parent)
    srv = serve(app)
    size = huge_file.stat().st_size
    with RawClient(srv.addr, rcvbuf=65536, timeout=10, keep_log=False) as client:
        client.send(get("/file?name=huge"))
        if sys.platform == "linux":
            assert wait_until(lambda: _read_offset(huge_file) is not None, 5)
            # Wait until the read position stops moving (the server waits for a drain).
            last, stable_since = -1, time.monotonic()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                now = _read_offset(huge_file) or 0
                if now != last:
                    last, stable_since = now, time.monotonic()
                elif time.monotonic() - stable_since > 0.3:
                    break
                time.sleep(0.02)
            assert last < size // 2, f"the server read {last} of {size} bytes ahead of a client"
        else:
            time.sleep(0.5)
        assert app.done == 0, "pathsend returned before the client read the file"
        response = client.read_final()
    assert response.status == 200
    assert len(response.body) == size
    assert response.body == huge_file.read_bytes()
    assert wait_until(lambda: app.done == 1, 5)
    assert _read_offset(huge_file) is None, "the file was left open"


@pytest.mark.skipif(sys.platform == "win32", reason="an open file cannot be truncated there")
@pytest.mark.parametrize("combo", LOOP_COMBOS)  # the parser has no part in it
def test_file_shrinking_while_sent_cuts_the_response(serve, huge_file, tmp_path, caplog):
    """A file cut short after its head went out: the connection is cut, never a short body
    passed off as whole."""
    path = tmp_path / "shrinking"
    path.write_bytes(huge_file.read_bytes()[: 16 * MIB])  # far more than socket buffers
    app = PathSendApp(tmp_path)
    srv = serve(app)
    with RawClient(srv.addr, rcvbuf=65536, timeout=10, keep_log=False) as client:
        client.send(get("/file?name=shrinking"))
        time.sleep(0.5)  # the server is now waiting for the client to read
        os.truncate(path, 0)
        response = client.read_final(allow_incomplete=True)
    assert response.status == 200
    assert not response.complete
    assert wait_until(lambda: _tracebacks(caplog, RuntimeError), 5)
    assert srv.request(get("/plain")).status == 200
