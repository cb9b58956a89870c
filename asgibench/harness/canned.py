"""The canned-response server: the floor under every server, used to measure the load
driver's own ceiling.

A raw :class:`asyncio.Protocol` on the fastest available loop that answers every request
it reads -- pipelined ones too, all answers of one read in one write -- with a prebuilt
response chosen by the request path: each test type's canned body, with the same headers
the servers send (``Server``, a ``Date`` re-rendered every second, ``Content-Type``,
``Content-Length``), 404 otherwise. No ASGI, no real parser: whatever a driver reaches
against it is that driver's ceiling on this machine.

Run it as a subprocess::

    python -m asgibench.harness.canned --port 8080 [--host 127.0.0.1] [--loop auto]

It prints ``canned: listening on HOST:PORT`` once bound and stops on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from email.utils import formatdate

from asgibench.harness import testtypes

#: path -> (status, Content-Type, body): each registered test type's canned response.
_BODIES: dict[bytes, tuple[bytes, bytes, bytes]] = {
    test.path.encode("ascii"): (b"200 OK", *test.canned)
    for test in map(testtypes.get, testtypes.names()) if test.canned is not None
}
_NOT_FOUND = (b"404 Not Found", b"text/plain", b"Not Found")


class _Responses:
    """Prebuilt responses, rebuilt when the Date second changes."""

    def __init__(self) -> None:
        self.by_path: dict[bytes, bytes] = {}
        self.not_found = b""
        self.refresh()

    def refresh(self) -> None:
        date = formatdate(time.time(), usegmt=True).encode("ascii")
        self.by_path = {path: _render(parts, date) for path, parts in _BODIES.items()}
        self.not_found = _render(_NOT_FOUND, date)


def _render(parts: tuple[bytes, bytes, bytes], date: bytes) -> bytes:
    status, content_type, body = parts
    return b"".join(
        [
            b"HTTP/1.1 ", status, b"\r\n",
            b"Server: canned\r\n",
            b"Date: ", date, b"\r\n",
            b"Content-Type: ", content_type, b"\r\n",
            b"Content-Length: ", str(len(body)).encode("ascii"), b"\r\n\r\n",
            body,
        ]
    )


class CannedProtocol(asyncio.Protocol):
    """Answer each complete request head (GET, no body) with a canned response."""

    __slots__ = ("buffer", "responses", "transport")

    def __init__(self, responses: _Responses) -> None:
        self.responses = responses
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        by_path = self.responses.by_path
        out = []
        start = 0
        while True:
            end = buffer.find(b"\r\n\r\n", start)
            if end < 0:
                break
            first_space = buffer.find(b" ", start, end)
            second_space = buffer.find(b" ", first_space + 1, end)
            path = buffer[first_space + 1 : second_space]
            response = by_path.get(path)
            out.append(response if response is not None else self.responses.not_found)
            start = end + 4
        self.buffer = buffer[start:]
        if len(self.buffer) > 65536:  # not HTTP we understand: drop the connection
            self.transport.close()  # type: ignore[union-attr]
            return
        if out:
            self.transport.write(out[0] if len(out) == 1 else b"".join(out))  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(host: str, port: int, ready: asyncio.Future[int] | None = None) -> None:
    """Serve until cancelled (or SIGINT/SIGTERM when run as a script)."""
    loop = asyncio.get_running_loop()
    responses = _Responses()

    def tick() -> None:
        responses.refresh()
        timer[0] = loop.call_at(loop.time() + 1.0 - (time.time() % 1.0), tick)

    timer = [loop.call_at(loop.time() + 1.0 - (time.time() % 1.0), tick)]
    server = await loop.create_server(
        lambda: CannedProtocol(responses), host, port, backlog=4096, reuse_address=True
    )
    bound = server.sockets[0].getsockname()[1]
    if ready is not None:
        ready.set_result(bound)
    print(f"canned: listening on {host}:{bound}", flush=True)
    stop = asyncio.Event()
    with contextlib.suppress(NotImplementedError, RuntimeError, AttributeError):
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        timer[0].cancel()
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m asgibench.harness.canned", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--loop", default="auto", help="asgibench loop name (default: auto)")
    args = parser.parse_args(argv)

    from asgibench import loops
    from asgibench.errors import BenchError

    try:
        loops.run(serve(args.host, args.port), loop=args.loop)
    except BenchError as exc:
        print(f"canned: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"canned: error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
