"""ASGI apps for the conformance suite.

Plain apps are module-level coroutines; apps that report back to the test (what scope
they saw, how far a stream got) are small classes whose attributes the test thread reads.
Every app answers the lifespan protocol properly unless it is meant not to.
Waiting on the test thread is done by polling a ``threading.Event`` (works on every loop),
always with an upper bound so a failing test cannot hang the server's shutdown.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import threading
from typing import Any
from urllib.parse import parse_qs

Scope = dict[str, Any]


async def wait_event(event: threading.Event, timeout: float = 10.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not event.is_set():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True


async def lifespan_protocol(receive: Any, send: Any, state: dict | None = None) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        assert message["type"] == "http.request", message
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def respond(
    send: Any,
    body: bytes,
    status: int = 200,
    headers: list[tuple[bytes, bytes]] | None = None,
    content_length: bool = True,
) -> None:
    all_headers = [(b"content-type", b"text/plain")]
    if content_length:
        all_headers.append((b"content-length", str(len(body)).encode()))
    all_headers += headers or []
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})


HELLO = b"Hello, world!"


async def hello(scope: Scope, receive: Any, send: Any) -> None:
    """200 ``Hello, world!`` with a Content-Length; never reads the request body."""
    if scope["type"] == "lifespan":
        return await lifespan_protocol(receive, send)
    await respond(send, HELLO)


async def echo(scope: Scope, receive: Any, send: Any) -> None:
    """Reads the whole body; answers ``METHOD /raw/path?query\\n`` + body.

    ``?sleep=S`` sleeps S seconds before reading.
    """
    if scope["type"] == "lifespan":
        return await lifespan_protocol(receive, send)
    query = parse_qs(scope["query_string"].decode())
    if "sleep" in query:
        await asyncio.sleep(float(query["sleep"][0]))
    body = await read_body(receive)
    target = scope["raw_path"]
    if scope["query_string"]:
        target += b"?" + scope["query_string"]
    await respond(send, scope["method"].encode() + b" " + target + b"\n" + body)


STREAM_PARTS = (b"hello", b" ", b"world")


async def stream(scope: Scope, receive: Any, send: Any) -> None:
    """No Content-Length: ``hello``, `` ``, ``world`` as three sends, then an empty last one."""
    if scope["type"] == "lifespan":
        return await lifespan_protocol(receive, send)
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"x/y")]}
    )
    for part in STREAM_PARTS:
        await send({"type": "http.response.body", "body": part, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def multi_part_content_length(scope: Scope, receive: Any, send: Any) -> None:
    """Content-Length 11 sent as three body messages."""
    if scope["type"] == "lifespan":
        return await lifespan_protocol(receive, send)
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"11")]}
    )
    for part in STREAM_PARTS[:-1]:
        await send({"type": "http.response.body", "body": part, "more_body": True})
    await send({"type": "http.response.body", "body": STREAM_PARTS[-1]})


async def no_content(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        return await lifespan_protocol(receive, send)
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


CUSTOM_SERVER = b"custom-server/1.0"
CUSTOM_DATE = b"Thu, 01 Jan 1970 00:00:00 GMT"


async def own_server_and_date(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        return await lifespan_protocol(receive, send)
    await respond(send, b"ok", headers=[(b"Server", CUSTOM_SERVER), (b"Date", CUSTOM_DATE)])


async def loop_type(scope: Scope, receive: Any, send: Any) -> None:
    """Answers the running event loop's ``module.QualName``."""
    if scope["type"] == "lifespan":
        return await lifespan_protocol(receive, send)
    kind = type(asyncio.get_running_loop())
    await respond(send, f"{kind.__module__}.{kind.__qualname__}".encode())


class Recorder:
    """Records every http scope and the messages receive() returned; answers 200 ``ok``."""

    def __init__(self, read: bool = True) -> None:
        self.scopes: list[Scope] = []
        self.messages: list[dict[str, Any]] = []
        self.read = read
        self.lifespan_state: dict[str, Any] = {"started": True, "db": "connected"}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            scope["state"].update(self.lifespan_state)
            return await lifespan_protocol(receive, send)
        self.scopes.append(scope)
        if self.read:
            while True:
                message = await receive()
                self.messages.append(message)
                if not message.get("more_body"):
                    break
        await respond(send, b"ok")


class ExpectApp:
    """Waits for ``go`` (set by the test) before calling receive(), then echoes the body."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.entered = threading.Event()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return await lifespan_protocol(receive, send)
        self.entered.set()
        await wait_event(self.go)
        body = await read_body(receive)
        await respond(send, b"got:" + body)


class Gate:
    """``/wait`` blocks until ``release`` is set (at most 10 s); other paths answer at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return await lifespan_protocol(receive, send)
        if scope["path"] == "/wait":
            self.entered.set()
            await wait_event(self.release)
            await respond(send, b"released")
        else:
            await respond(send, b"ok")


class DisconnectWatcher:
    """Reads the body, then waits on receive() and records what it gets."""

    def __init__(self) -> None:
        self.body_read = threading.Event()
        self.done = threading.Event()
        self.after_body: dict[str, Any] | None = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return await lifespan_protocol(receive, send)
        await read_body(receive)
        self.body_read.set()
        try:
            self.after_body = await asyncio.wait_for(receive(), 10)
        finally:
            self.done.set()


class SlowUpload:
    """Does not call receive() until ``release``; then hashes the whole body.

    Answers ``<length> <sha256>``; ``largest_message`` is the biggest body chunk
    one receive() returned (what the server had buffered at that moment, at most).
    """

    def __init__(self) -> None:
        self.release = threading.Event()
        self.largest_message = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return await lifespan_protocol(receive, send)
        await wait_event(self.release, timeout=20)
        digest = hashlib.sha256()
        total = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            body = message.get("body", b"")
            self.largest_message = max(self.largest_message, len(body))
            total += len(body)
            digest.update(body)
            if not message.get("more_body"):
                break
        await respond(send, f"{total} {digest.hexdigest()}".encode())


MIB = 1 << 20


def stream_block(index: int) -> bytes:
    return bytes([index % 251]) * MIB


class BigStream:
    """Content-Length ``chunks`` MiB, sent as ``chunks`` sends of 1 MiB (block i = byte i%251).

    ``sent`` counts the send() calls that have returned.
    """

    def __init__(self, chunks: int = 64) -> None:
        self.chunks = chunks
        self.sent = 0
        self.done = False

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return await lifespan_protocol(receive, send)
        length = str(self.chunks * MIB).encode()
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", length)]}
        )
        for index in range(self.chunks):
            more = index < self.chunks - 1
            await send({"type": "http.response.body", "body": stream_block(index),
                        "more_body": more})
            self.sent += 1
        self.done = True


# ---- app errors


async def raise_before_start(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        return await lifespan_protocol(receive, send)
    if scope["path"] == "/ok":
        return await respond(send, b"ok")
    raise RuntimeError("boom before start")


async def raise_after_partial_body(scope: Scope, receive: Any, send: Any) -> None:
    """``/cl``: Content-Length 100, 10 bytes, then raises; ``/chunked``: 1 chunk, raises."""
    if scope["type"] == "lifespan":
        return await lifespan_protocol(receive, send)
    if scope["path"] == "/ok":
        return await respond(send, b"ok")
    headers = [(b"content-length", b"100")] if scope["path"] == "/cl" else []
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"0123456789", "more_body": True})
    await asyncio.sleep(0.05)
    raise RuntimeError("boom after start")


async def no_response(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        return await lifespan_protocol(receive, send)
    if scope["path"] == "/ok":
        return await respond(send, b"ok")
    return None


async def header_injection(scope: Scope, receive: Any, send: Any) -> None:
    """Tries to smuggle a header through a value holding CRLF."""
    if scope["type"] == "lifespan":
        return await lifespan_protocol(receive, send)
    if scope["path"] == "/ok":
        return await respond(send, b"ok")
    await respond(send, b"x", headers=[(b"x-evil", b"a\r\nInjected: yes")])


# ---- lifespan


class LifespanApp:
    """Records lifespan events; ``startup_delay`` sleeps inside startup.

    ``fail_with``: "message" sends lifespan.startup.failed, "raise" raises in startup,
    "unsupported" raises on any lifespan scope (an app without lifespan support).
    """

    def __init__(self, startup_delay: float = 0.0, fail_with: str | None = None) -> None:
        self.startup_delay = startup_delay
        self.fail_with = fail_with
        self.events: list[str] = []
        self.scope_types: list[str] = []
        self.startup_complete = False

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        self.scope_types.append(scope["type"])
        if scope["type"] == "lifespan":
            if self.fail_with == "unsupported":
                raise RuntimeError("this app does not do lifespan")
            while True:
                message = await receive()
                self.events.append(message["type"])
                if message["type"] == "lifespan.startup":
                    if self.fail_with == "message":
                        await send({"type": "lifespan.startup.failed", "message": "db down"})
                        return
                    if self.fail_with == "raise":
                        raise RuntimeError("startup exploded")
                    await asyncio.sleep(self.startup_delay)
                    scope["state"]["greeting"] = "hi"
                    self.startup_complete = True
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b"ready" if self.startup_complete else b"NOT READY"
        await respond(send, body)


# ---- subprocess apps (written to a temp dir as app_module.py)

SUBPROCESS_APP = r'''
import asyncio
import contextvars
import os
import pathlib

HERE = pathlib.Path(__file__).parent


async def _lifespan(receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            (HERE / f"startup-{os.getpid()}").write_text("started")
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            (HERE / f"shutdown-{os.getpid()}").write_text("shut down")
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _respond(send, body, status=200):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send)
    path = scope["path"]
    if path == "/slow":
        (HERE / "slow-started").write_text("1")
        for _ in range(2000):  # until the test creates "release" (at most ~10 s)
            if (HERE / "release").exists():
                break
            await asyncio.sleep(0.005)
        return await _respond(send, b"slow done")
    if path == "/hang":
        (HERE / "hang-started").write_text("1")
        await asyncio.sleep(3600)
    if path == "/pid":
        return await _respond(send, str(os.getpid()).encode())
    if path == "/loop":
        loop_type = type(asyncio.get_running_loop())
        return await _respond(send, f"{loop_type.__module__}.{loop_type.__qualname__}".encode())
    await _respond(send, b"ok")


def factory():
    async def made_by_factory(scope, receive, send):
        if scope["type"] == "lifespan":
            return await _lifespan(receive, send)
        await _respond(send, b"from factory")
    return made_by_factory


async def startup_failed(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed",
                    "message": "database is down: code 7"})
        return
    await _respond(send, b"should not serve")


async def startup_raises(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        raise RuntimeError("startup exploded: code 9")
    await _respond(send, b"should not serve")
'''


REQUEST_VAR: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "REQUEST_VAR", default=None
)


async def task_semantics(scope: Scope, receive: Any, send: Any) -> None:
    """Reports what an app sees of asyncio tasks and context variables.

    Every route answers ``<what it saw>``: ``task`` whether ``current_task()`` is a live
    task, before and after an await; ``var`` the context variable on entry (must be
    None: nothing leaks from an earlier request) and after an await (must be its own).
    """
    if scope["type"] == "lifespan":
        return await lifespan_protocol(receive, send)
    path = scope["path"]
    task = asyncio.current_task()
    entry_var = REQUEST_VAR.get()
    REQUEST_VAR.set(path)
    body = b""
    if path == "/wait":
        await asyncio.sleep(0.01)
    elif path == "/wait-for-timeout":
        try:
            await asyncio.wait_for(asyncio.sleep(5), 0.01)
        except asyncio.TimeoutError:
            body = b"timed out;"
    elif path == "/cancel-self":
        task.cancel()  # type: ignore[union-attr]
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            if hasattr(task, "uncancel"):
                task.uncancel()
            body = b"cancelled;"
    elif path == "/stale-cancel":
        # A watchdog that fires after this request is answered: it must hit nothing.
        asyncio.get_running_loop().call_later(0.05, task.cancel)  # type: ignore[union-attr]
    elif path == "/slow":
        await asyncio.sleep(0.15)
    elif path == "/cancel-and-return":
        task.cancel()  # type: ignore[union-attr]  -- and never await again
    elif path == "/anyio":
        import anyio

        with anyio.move_on_after(0.01) as scope_:
            await anyio.sleep(5)
        results: list[int] = []

        async def child(n: int) -> None:
            await anyio.sleep(0)
            results.append(n)

        async with anyio.create_task_group() as group:
            group.start_soon(child, 1)
            group.start_soon(child, 2)
        body = b"anyio %s %d;" % (b"moved-on" if scope_.cancel_called else b"no", len(results))
    live = isinstance(task, asyncio.Task) and not task.done()
    same = asyncio.current_task() is task
    body += b"task=%s var=%s,%s" % (
        b"ok" if live and same else b"bad",
        str(entry_var).encode(),
        str(REQUEST_VAR.get()).encode(),
    )
    await respond(send, body)


class SyncEntry:
    """An app whose synchronous ``__call__`` sets a context variable before returning the
    coroutine (as wrappers do): that must not leak into the next request either."""

    def __call__(self, scope: Scope, receive: Any, send: Any) -> Any:
        if scope["type"] == "http":
            entry = REQUEST_VAR.get()
            REQUEST_VAR.set(scope["path"])
            return self._respond(send, entry)
        return lifespan_protocol(receive, send)

    async def _respond(self, send: Any, entry: str | None) -> None:
        await respond(send, b"entry=%s" % str(entry).encode())


# ---- streaming from other tasks, receive() after the response, large bodies


class ChildTaskStream:
    """Sends its whole response from a task it creates, as Starlette's StreamingResponse,
    sse-starlette and Django's streaming responses do from a task group: the head, then
    ``PARTS`` chunks ``INTERVAL`` s apart, chunked.

    With ``watch=True`` the handler meanwhile loops on receive() until http.disconnect, as
    Litestar's ``Stream`` does; ``received`` lists the message types it got. ``returned``
    is set when the handler returns.
    """

    PARTS = 4
    INTERVAL = 0.25

    def __init__(self, watch: bool = False) -> None:
        self.watch = watch
        self.returned = threading.Event()
        self.received: list[str] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return await lifespan_protocol(receive, send)
        if scope["path"] == "/ok":
            return await respond(send, b"ok")

        async def produce() -> None:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/plain")]})
            for index in range(self.PARTS):
                await asyncio.sleep(self.INTERVAL)
                await send({"type": "http.response.body", "body": b"%d." % index,
                            "more_body": True})
            await send({"type": "http.response.body", "body": b""})

        task = asyncio.get_running_loop().create_task(produce())
        try:
            if self.watch:
                while True:
                    message = await asyncio.wait_for(receive(), 10)
                    self.received.append(message["type"])
                    if message["type"] == "http.disconnect":
                        break
            await task
        finally:
            self.returned.set()


async def slow_stream(scope: Scope, receive: Any, send: Any) -> None:
    """20 chunks 50 ms apart; sends go on (as no-ops) after the client has left."""
    if scope["type"] == "lifespan":
        return await lifespan_protocol(receive, send)
    if scope["path"] == "/ok":
        return await respond(send, b"ok")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for _ in range(20):
        await send({"type": "http.response.body", "body": b"tick\n", "more_body": True})
        await asyncio.sleep(0.05)
    await send({"type": "http.response.body", "body": b""})


async def body_or_disconnect(scope: Scope, receive: Any, send: Any) -> None:
    """Reads the body; returns quietly on http.disconnect, as frameworks do."""
    if scope["type"] == "lifespan":
        return await lifespan_protocol(receive, send)
    if scope["path"] == "/ok":
        return await respond(send, b"ok")
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await respond(send, b"%d" % size)


# One object, the same for every response: a server must not need a copy per reader.
LARGE = bytes(range(256)) * (32 * 1024)  # 8 MiB


async def large_body(scope: Scope, receive: Any, send: Any) -> None:
    """``LARGE`` in one http.response.body; ``/chunked`` sends it without Content-Length."""
    if scope["type"] == "lifespan":
        return await lifespan_protocol(receive, send)
    chunked = scope["path"] == "/chunked"
    await respond(send, LARGE, content_length=not chunked)


# Every pipelined request answered with this, so unread responses add up fast.
PIPELINE_RESPONSE = b"r" * 48 * 1024


class CountingResponder:
    """Answers every request with ``PIPELINE_RESPONSE``; ``answered`` counts them."""

    def __init__(self) -> None:
        self.answered = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return await lifespan_protocol(receive, send)
        self.answered += 1
        await respond(send, PIPELINE_RESPONSE)


class BackgroundWork:
    """Completes its response, then goes on working for ``WORK`` s (as Starlette's
    BackgroundTasks do inside the app call); ``finished`` counts the work that ended."""

    WORK = 1.0

    def __init__(self) -> None:
        self.finished = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return await lifespan_protocol(receive, send)
        await respond(send, b"done")
        if scope["path"] == "/background":
            await asyncio.sleep(self.WORK)
            self.finished += 1
