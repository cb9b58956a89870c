"""The ASGI app every hostile test serves, in a ``bench serve`` subprocess.

This file is copied as ``app_module.py`` into the test's temporary directory and served as
``app_module:app`` (so it must import nothing from the test suite). Routes:

``/big``     one pre-built ``BIG_SIZE`` body in a single ``http.response.body`` message; the
             same module-level bytes object every time, so holding a reference to it costs
             the server nothing, and only copies of it show in its memory.
``/small``   ``ok``.
``/kb``      a 1 KiB body (a small request with a response worth keeping in memory).
``/upload``  reads the whole request body, answers ``got N``; if the client leaves first
             (``http.disconnect``) it returns quietly, as an app may.
``/stream``  a chunked response: a first chunk at once, then one every 10 ms (up to 30)
             until the client disconnects, which a concurrent ``receive()`` reports
             (what Starlette's StreamingResponse does).
other        the request path echoed as the body (pipelining tests check the order).
"""

import asyncio

BIG_SIZE = 32 * 1024 * 1024
# Every page written (a calloc'ed zero buffer would not be resident until touched).
BIG = bytes(range(256)) * (BIG_SIZE // 256)
KB = b"k" * 1024
STREAM_CHUNK = b"s" * 256
STREAM_CHUNKS = 30


def _head(status, length=None):
    headers = [(b"content-type", b"text/plain")]
    if length is not None:
        headers.append((b"content-length", b"%d" % length))
    return {"type": "http.response.start", "status": status, "headers": headers}


async def _plain(send, body, status=200):
    await send(_head(status, len(body)))
    await send({"type": "http.response.body", "body": body})


async def _upload(receive, send):
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return  # the client left mid-body: nothing to answer, nobody to answer to
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    await _plain(send, b"got %d" % size)


async def _stream(receive, send):
    gone = asyncio.Event()

    async def watch():
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                gone.set()
                return

    watcher = asyncio.ensure_future(watch())
    try:
        await send(_head(200))
        await send({"type": "http.response.body", "body": STREAM_CHUNK, "more_body": True})
        for _ in range(STREAM_CHUNKS):
            try:
                await asyncio.wait_for(gone.wait(), 0.01)
            except asyncio.TimeoutError:
                pass
            if gone.is_set():
                return  # the client left: stop streaming
            await send({"type": "http.response.body", "body": STREAM_CHUNK, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        watcher.cancel()


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    if path == "/big":
        await send(_head(200, BIG_SIZE))
        await send({"type": "http.response.body", "body": BIG})
    elif path == "/small":
        await _plain(send, b"ok")
    elif path == "/kb":
        await _plain(send, KB)
    elif path == "/upload":
        await _upload(receive, send)
    elif path == "/stream":
        await _stream(receive, send)
    else:
        await _plain(send, scope["raw_path"])
