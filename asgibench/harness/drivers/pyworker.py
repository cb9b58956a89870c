"""One worker process of the Python load driver (:mod:`asgibench.harness.drivers.pydriver`).

It opens its share of keep-alive connections as raw :class:`asyncio.Protocol` objects on
the fastest loop available (``asgibench.loops``' ``auto``: uvloop, else winloop, else the
stdlib loop). A connection writes ``pipeline`` requests in one write, waits for that many
responses, and repeats -- closed-loop, like wrk. Responses are framed with a
``\\r\\n\\r\\n`` search and a ``Content-Length`` regex (chunked bodies are parsed too);
every response's status is counted and every body is checked against the test type (a byte
compare against known-good bodies, the full check otherwise), so wrong bodies count as
errors. Latency is measured from a batch's write to each response's arrival, counted
in exact microseconds and handed over as an HDR histogram (:mod:`asgibench.harness.latency`).

Open loop (``spec["rate"]`` > 0): requests are sent on a schedule of their own (fixed
intervals, or Poisson arrivals), one request in flight per connection, never waiting for
responses, and each latency runs from the request's **scheduled** time, so a server stall
counts for every request it held up (no coordinated omission). A scheduled request takes
a free connection; with none free, a new one is opened (at most ``_GROW_PARALLEL`` at a
time, up to ``max_connections``: the harness caps them near rate x 200 ms, so an
overloaded server queues requests instead of drawing one connect per request) and the
request waits in a queue meanwhile. A request sent more than ``LATE_MS`` after its
scheduled time is counted late; one that waited ``timeout`` in the queue, or was still
queued when the window ended, is counted dropped. When the window ends nothing new is
sent and the requests in flight are awaited (up to ``timeout``), so the slowest ones are
not left out; those still unanswered count as timeouts.

WebSocket mode (``spec["websocket"]``, the ``websocket-*`` test types): each connection
upgrades ``path`` with one fixed request (a fixed ``Sec-WebSocket-Key``; the answer must
be ``101`` with the matching ``Sec-WebSocket-Accept``), then sends a masked text frame
and waits for its echo, compared byte for byte with what was sent (a wrong echo counts as
a bad body), and repeats. Frames are encoded and decoded here, over the same
``asyncio.Protocol`` as HTTP: a library client would cost more CPU than the servers it
measures. The messages (eight variants, so an echo of an older one is caught) are masked
once, with one random key per worker: the masking work stays the server's, the driver
only copies bytes. Pings are answered with pongs, fragmented messages are reassembled, a
close from the server reopens the connection (a read error). In ``storm`` mode every
message gets its own connection: upgrade, one echo, close handshake (1000), and latency
runs from the connect to the echo.

Protocol (internal): ``python -m asgibench.harness.drivers.pyworker`` reads the spec as
one JSON line on stdin (not an argument: a workload's requests can be megabytes) and its
share of the connections on the next (open loop: a JSON object with its connections, its
share of the rate, its schedule's phase and its max_connections), prints
``{"ready": ...}``, waits for ``go`` on stdin, runs, prints ``{"result": ...}`` as JSON;
the result's ``usage`` is the worker's own CPU, run-queue delay and wall seconds over its
measured window (:mod:`asgibench.harness.procstat`).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import json
import os
import random
import re
import sys
import time
from typing import Any

from asgibench import loops
from asgibench.harness import latency, procstat, testtypes
from asgibench.harness.drivers import ERROR_KINDS
from asgibench.harness.testtypes import websocket_echo
from asgibench.harness.workloads import authority

_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE).search
#: A response this much larger than what has arrived is gathered (see ``partial``).
_GATHER_FROM = 256 * 1024
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:[^\r\n]*chunked", re.IGNORECASE).search
_CONNECT_PARALLEL = 256
_RECONNECT_DELAY = 0.05
#: Open loop: a send this much after its scheduled time is late (the driver could not
#: keep its schedule: no free connection, or its own CPU).
LATE_MS = 10.0
#: Open loop: at most this many connections being opened at once per worker: at
#: overload every scheduled request finds all connections busy, and opening one for each
#: would measure the cost of connecting, not the server's answers.
_GROW_PARALLEL = 32

# -- WebSocket (RFC 6455) ---------------------------------------------------------------
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
WS_KEY = base64.b64encode(b"asgibench-driver")  # 16 bytes, as RFC 6455 asks
WS_ACCEPT = base64.b64encode(hashlib.sha1(WS_KEY + WS_GUID).digest())
# The header's name in any case; its value (base64) exactly.
_WS_ACCEPT = re.compile(rb"\r\n(?i:sec-websocket-accept):[ \t]*" + re.escape(WS_ACCEPT) +
                        rb"[ \t]*\r\n").search
WS_TEXT, WS_BINARY, WS_CLOSE, WS_PING, WS_PONG = 0x1, 0x2, 0x8, 0x9, 0xA
WS_VARIANTS = 8  # distinct messages per worker, sent in turn


def ws_accepted(head: bytes) -> bool:
    """Whether a 101's head (with its final CRLF) carries the right
    ``Sec-WebSocket-Accept`` for :data:`WS_KEY`."""
    return _WS_ACCEPT(head) is not None


def ws_mask(payload: bytes, key: bytes) -> bytes:
    """``payload`` XORed with the 4-byte ``key`` repeated (RFC 6455 5.3)."""
    if not payload:
        return payload
    size = len(payload)
    stream = (key * (size // 4 + 1))[:size]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(
        size, "big")


def ws_frame(opcode: int, payload: bytes, key: bytes) -> bytes:
    """One final client frame: masked with ``key``, the length in its shortest form."""
    size = len(payload)
    if size < 126:
        head = bytes((0x80 | opcode, 0x80 | size))
    elif size < 1 << 16:
        head = bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + size.to_bytes(8, "big")
    return head + key + ws_mask(payload, key)


def ws_frames(buffer: bytes) -> tuple[list[tuple[int, bool, bytes, bool]], int]:
    """Complete frames at the start of ``buffer``: ([(opcode, fin, payload, masked)],
    bytes used). A masked server frame is returned unmasked and flagged: the caller
    counts it as wrong (RFC 6455 5.1: a server never masks)."""
    out = []
    pos = 0
    size = len(buffer)
    while size - pos >= 2:
        b0 = buffer[pos]
        b1 = buffer[pos + 1]
        length = b1 & 0x7F
        at = pos + 2
        if length == 126:
            if size - at < 2:
                break
            length = int.from_bytes(buffer[at:at + 2], "big")
            at += 2
        elif length == 127:
            if size - at < 8:
                break
            length = int.from_bytes(buffer[at:at + 8], "big")
            at += 8
        masked = bool(b1 & 0x80)
        key = b""
        if masked:
            if size - at < 4:
                break
            key = buffer[at:at + 4]
            at += 4
        end = at + length
        if end > size:
            break
        payload = buffer[at:end]
        out.append((b0 & 0x0F, bool(b0 & 0x80), ws_mask(payload, key) if masked else payload,
                    masked))
        pos = end
    return out, pos


def ws_handshake(path: str, host: str, port: int) -> bytes:
    """The one upgrade request every connection sends."""
    return (f"GET {path} HTTP/1.1\r\nHost: {authority(host, port)}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {WS_KEY.decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode("latin-1")


class _Stats:
    __slots__ = ("bad_body", "checked", "counting", "dropped", "errors", "hist", "late",
                 "max_us", "non_2xx", "peak_connections", "requests", "scheduled", "sent")

    def __init__(self) -> None:
        self.counting = False
        self.requests = 0
        self.non_2xx = 0
        self.bad_body = 0
        self.checked = 0
        self.max_us = 0
        self.hist: dict[int, int] = {}  # exact microseconds -> count
        self.errors = dict.fromkeys(ERROR_KINDS, 0)
        # Open loop only.
        self.scheduled = 0
        self.sent = 0
        self.late = 0
        self.dropped = 0
        self.peak_connections = 0


class _Connection(asyncio.Protocol):
    """One keep-alive connection: write a batch, read as many responses, repeat."""

    def __init__(self, load: _Load) -> None:
        self.load = load
        self.stats = load.stats
        self.batch = load.batch
        self.depth = load.depth
        self.good = load.good_bodies
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        # A response larger than one read: its bytes gather here until ``need`` are in,
        # so a 1 MiB body costs one join, not a copy of the buffer per read.
        self.partial = bytearray()
        self.need = 0
        self.pending = 0
        self.sent_at = 0.0
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self) -> None:
        self.pending = self.depth
        self.sent_at = time.perf_counter()
        load = self.load
        if load.batches:
            batch = load.batches[load.next_batch]
            load.next_batch = (load.next_batch + 1) % len(load.batches)
        else:
            batch = self.batch
        self.transport.write(batch)  # type: ignore[union-attr]

    def send_scheduled(self, at: float) -> None:
        """Open loop: send the next request, its latency counted from ``at``."""
        self.pending = 1
        self.sent_at = at
        load = self.load
        if load.batches:
            batch = load.batches[load.next_batch]
            load.next_batch = (load.next_batch + 1) % len(load.batches)
        else:
            batch = self.batch
        self.transport.write(batch)  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        if self.need:
            self.partial += data
            if len(self.partial) < self.need:
                return
            data, self.partial, self.need = bytes(self.partial), bytearray(), 0
        now = time.perf_counter()
        buffer = self.buffer + data if self.buffer else data
        size = len(buffer)
        pos = 0
        done = 0
        stats = self.stats
        while True:
            head_end = buffer.find(b"\r\n\r\n", pos)
            if head_end < 0:
                break
            start = pos
            match = _CONTENT_LENGTH(buffer, pos, head_end + 2)
            if match is not None:
                end = head_end + 4 + int(match.group(1))
                if end > size:
                    if end - pos > _GATHER_FROM:
                        self.need = end - pos
                    break
                body = buffer[head_end + 4 : end]
            else:
                parsed = _parse_unsized(buffer, pos, head_end, size)
                if parsed is None:
                    break
                body, end = parsed
            status = buffer[start + 9 : start + 12]
            pos = end
            done += 1
            if not stats.counting:
                continue
            if status == b"200" and body in self.good:
                continue
            if status[:1] != b"2" or not buffer.startswith(b"HTTP/1.", start):
                stats.non_2xx += 1
            elif self.load.body_ok(body):
                self.good.add(body)
            else:
                stats.bad_body += 1
        self.buffer = buffer[pos:] if pos < size else b""
        if self.need:
            self.partial += self.buffer
            self.buffer = b""
        if not done:
            return
        self.pending -= done
        if stats.counting:
            stats.requests += done
            stats.checked += done
            us = int((now - self.sent_at) * 1e6)
            if us > stats.max_us:
                stats.max_us = us
            hist = stats.hist
            hist[us] = hist.get(us, 0) + done
        if self.pending <= 0 and self.load.running:
            if self.load.rate:
                self.load.idle(self)
            elif self.load.close:  # one request per connection: a new one for the next
                self.closing = True
                self.transport.close()  # type: ignore[union-attr]
                self.load.reconnect(self)
            else:
                self.send()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.closing or not self.load.running:
            return
        if self.stats.counting:
            self.stats.errors["read"] += 1
        self.load.reconnect(self)


class _WsConnection(asyncio.Protocol):
    """One WebSocket connection: upgrade, then send a message, wait for its echo, repeat
    (``storm``: upgrade, one echo, close handshake, and a new connection)."""

    def __init__(self, load: _Load) -> None:
        self.load = load
        self.stats = load.stats
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[bool] = load.loop.create_future()
        self.upgraded = False
        self.buffer = b""
        self.fragments: list[bytes] = []
        self.fragment_opcode = 0
        self.pending = 0
        self.born = time.perf_counter()
        self.sent_at = self.born
        self.turn = load.next_turn()
        self.expected = b""
        self.closing = False  # the transport is being closed on purpose
        self.close_sent = False  # storm: our close frame is out, its answer awaited

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.load.ws_upgrade)  # type: ignore[union-attr]

    def send(self) -> None:
        load = self.load
        turn = self.turn
        self.turn = (turn + 1) % WS_VARIANTS
        self.expected = load.ws_messages[turn]
        self.pending = 1
        self.sent_at = time.perf_counter()
        self.transport.write(load.ws_frames[turn])  # type: ignore[union-attr]

    def _refuse(self) -> None:
        self.closing = True
        if not self.opened.done():
            self.opened.set_result(False)
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buffer
                return
            if not buffer.startswith(b"HTTP/1.1 101") or _WS_ACCEPT(buffer, 0, end + 4) is None:
                self.buffer = b""
                self._refuse()
                return
            self.upgraded = True
            buffer = buffer[end + 4:]
            if not self.opened.done():
                self.opened.set_result(True)
        frames, used = ws_frames(buffer)
        self.buffer = buffer[used:] if used < len(buffer) else b""
        for opcode, fin, payload, masked in frames:
            if opcode == WS_PING:
                self.transport.write(  # type: ignore[union-attr]
                    ws_frame(WS_PONG, payload, self.load.ws_key))
                continue
            if opcode == WS_PONG:
                continue
            if opcode == WS_CLOSE:
                if self.close_sent:  # storm: our close answered; the next connection
                    self.closing = True
                    self.pending = 0
                    self.transport.close()  # type: ignore[union-attr]
                    if self.load.running:
                        self.load.reconnect(self)
                else:  # the server closed on us: connection_lost counts it, reopens
                    self.transport.close()  # type: ignore[union-attr]
                return
            if opcode == 0:  # continuation
                self.fragments.append(payload)
                if not fin:
                    continue
                payload = b"".join(self.fragments)
                opcode = self.fragment_opcode
                self.fragments = []
            elif not fin:
                self.fragment_opcode = opcode
                self.fragments = [payload]
                continue
            self._echoed(opcode, payload, masked)

    def _echoed(self, opcode: int, payload: bytes, masked: bool) -> None:
        if self.pending <= 0:
            return  # nothing asked: not an echo (counted when it is)
        now = time.perf_counter()
        self.pending = 0
        stats = self.stats
        load = self.load
        if stats.counting:
            stats.requests += 1
            stats.checked += 1
            if opcode != WS_TEXT or payload != self.expected or masked:
                stats.bad_body += 1
            us = int((now - (self.born if load.storm else self.sent_at)) * 1e6)
            if us > stats.max_us:
                stats.max_us = us
            hist = stats.hist
            hist[us] = hist.get(us, 0) + 1
        if not load.running:
            return
        if load.storm:
            self.close_sent = True
            self.pending = 1  # the close answer is awaited under the same timeout
            self.sent_at = now
            self.transport.write(load.ws_close)  # type: ignore[union-attr]
        else:
            self.send()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.opened.done():
            self.opened.set_result(False)
        if self.closing or not self.load.running or not self.upgraded:
            return
        if self.stats.counting:
            self.stats.errors["read"] += 1
        self.load.reconnect(self)


def _parse_unsized(buffer: bytes, pos: int, head_end: int, size: int) -> tuple[bytes, int] | None:
    """Body of a response without Content-Length: chunked, or empty. None = incomplete."""
    if _CHUNKED(buffer, pos, head_end + 2) is None:
        return b"", head_end + 4  # 1xx/204/304 or a broken response; body check decides
    chunks = []
    at = head_end + 4
    while True:
        line_end = buffer.find(b"\r\n", at)
        if line_end < 0:
            return None
        try:
            length = int(buffer[at:line_end].split(b";", 1)[0], 16)
        except ValueError:
            return b"", line_end + 2
        if length == 0:
            trailer_end = buffer.find(b"\r\n\r\n", line_end)
            if trailer_end == line_end:  # no trailers: "0\r\n\r\n"
                return b"".join(chunks), line_end + 4
            if trailer_end < 0:
                return None
            return b"".join(chunks), trailer_end + 4
        start = line_end + 2
        if start + length + 2 > size:
            return None
        chunks.append(buffer[start : start + length])
        at = start + length + 2


class _Load:
    """One worker's connections and counters."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        request = (
            f"GET {spec['path']} HTTP/1.1\r\nHost: {authority(spec['host'], spec['port'])}\r\n"
            f"Accept: {spec['accept']}\r\nConnection: keep-alive\r\n\r\n"
        ).encode("latin-1")
        # Open loop: one request in flight per connection (no pipelining).
        self.rate = float(spec.get("rate") or 0.0)
        self.depth = 1 if self.rate else max(int(spec["pipeline"]), 1)
        self.batch = request * self.depth
        # A workload: its requests in turn, ``depth`` consecutive ones per batch.
        wires = [w.encode("latin-1") for w in spec.get("wires") or ()]
        self.batches = [b"".join(wires[(i * self.depth + k) % len(wires)]
                                 for k in range(self.depth)) for i in range(len(wires))]
        self.next_batch = 0
        self.close = bool(spec.get("close"))
        self.websocket = bool(spec.get("websocket"))
        self.storm = self.websocket and bool(spec.get("storm"))
        self.factory: Any = _WsConnection if self.websocket else _Connection
        self.turns = 0
        if self.websocket:
            self.ws_upgrade = ws_handshake(spec["path"], spec["host"], spec["port"])
            key = os.urandom(4)
            self.ws_key = key if any(key) else b"\x5a\xa5\x5a\xa5"
            size = int(spec.get("message_size") or 32)
            self.ws_messages = [websocket_echo.message(size, i) for i in range(WS_VARIANTS)]
            self.ws_frames = [ws_frame(WS_TEXT, m, self.ws_key) for m in self.ws_messages]
            self.ws_close = ws_frame(WS_CLOSE, (1000).to_bytes(2, "big"), self.ws_key)
        self.stats = _Stats()
        self.running = False
        self.connections: list[Any] = []
        self.good_bodies: set[bytes] = set()
        self.body_ok = _body_checker(spec.get("test"), self.good_bodies)
        self.loop = asyncio.get_running_loop()
        # Open loop: this worker's share of the rate, where its schedule starts within
        # the first interval (the workers' schedules interleave), free connections, and
        # scheduled times waiting for one.
        self.poisson = spec.get("arrival") == "poisson"
        self.phase = float(spec.get("phase") or 0.0)
        self.max_connections = int(spec.get("max_connections") or 0)
        self.free: list[Any] = []
        self.waiting: collections.deque[float] = collections.deque()
        self.opening = 0
        self.scheduling = False

    def next_turn(self) -> int:
        """Which message variant a new WebSocket connection starts with."""
        self.turns += 1
        return self.turns % WS_VARIANTS

    async def connect(self, conn: Any = None) -> Any:
        spec = self.spec
        try:
            _, protocol = await self.loop.create_connection(
                lambda: conn or self.factory(self), spec["host"], spec["port"]
            )
        except OSError:
            if self.stats.counting or not self.running:
                self.stats.errors["connect"] += 1
            return None
        if self.websocket and not await self._upgraded(protocol):
            return None
        return protocol

    async def _upgraded(self, conn: _WsConnection) -> bool:
        """True once ``conn``'s upgrade was answered 101 with the right accept key. A
        refused one counts as a non-2xx answer under load, a connect error before."""
        try:
            ok = await asyncio.wait_for(asyncio.shield(conn.opened),
                                        float(self.spec["timeout"]))
        except asyncio.TimeoutError:
            if self.stats.counting:
                self.stats.errors["timeout"] += 1
            elif not self.running:
                self.stats.errors["connect"] += 1
            conn._refuse()
            return False
        if not ok:
            if self.stats.counting:
                self.stats.requests += 1
                self.stats.non_2xx += 1
            elif not self.running:
                self.stats.errors["connect"] += 1
        return ok

    def reconnect(self, conn: Any) -> None:
        async def again() -> None:
            while self.running:
                fresh = await self.connect(self.factory(self))
                if fresh is not None:
                    if conn in self.connections:
                        self.connections[self.connections.index(conn)] = fresh
                    else:
                        self.connections.append(fresh)
                    if self.running:
                        self.start(fresh)
                    return
                await asyncio.sleep(_RECONNECT_DELAY)

        self.loop.create_task(again())

    async def connect_all(self, count: int) -> None:
        if self.storm:
            return  # every connection is opened under load, one per message
        gate = asyncio.Semaphore(_CONNECT_PARALLEL)

        async def one() -> None:
            async with gate:
                conn = await self.connect()
                if conn is not None:
                    self.connections.append(conn)

        await asyncio.gather(*(one() for _ in range(count)))

    def start(self, conn: Any) -> None:
        """Put a fresh connection to work: send (closed loop) or offer it (open loop)."""
        if self.rate:
            self.idle(conn)
        else:
            conn.send()

    # -- open loop ---------------------------------------------------------------------

    def idle(self, conn: Any) -> None:
        """Open loop: ``conn`` has nothing in flight: it takes the oldest scheduled request
        still waiting, else it joins the free ones."""
        timeout = float(self.spec["timeout"])
        now = time.perf_counter()
        stats = self.stats
        while self.waiting:
            at = self.waiting.popleft()
            if now - at > timeout:
                stats.dropped += 1
                continue
            self._send(conn, at, now)
            return
        self.free.append(conn)

    def _send(self, conn: Any, at: float, now: float) -> None:
        stats = self.stats
        stats.sent += 1
        if (now - at) * 1000 > LATE_MS:
            stats.late += 1
        conn.send_scheduled(at)

    def dispatch(self, at: float, now: float) -> None:
        """Open loop: the request scheduled at ``at`` is due."""
        self.stats.scheduled += 1
        while self.free:
            conn = self.free.pop()
            if conn.transport is not None and conn.pending <= 0:
                self._send(conn, at, now)
                return
        self.waiting.append(at)
        if len(self.connections) + self.opening < self.max_connections and \
                self.opening < min(len(self.waiting), _GROW_PARALLEL):
            self.opening += 1
            self.loop.create_task(self._grow())

    async def _grow(self) -> None:
        """Open loop: one more connection, because every one was busy."""
        try:
            conn = await self.connect()
        finally:
            self.opening -= 1
        if conn is None:
            return
        if not self.running:  # the load ended while it connected: run() closed the rest
            conn.closing = True
            conn.transport.abort()
            return
        self.connections.append(conn)
        self.stats.peak_connections = max(self.stats.peak_connections,
                                          len(self.connections))
        if self.running:
            self.idle(conn)

    async def schedule(self, started: float, duration: float) -> None:
        """Open loop: every due request dispatched, on time whatever the responses do."""
        rate = self.rate
        end = started + duration
        next_at = started + self.phase
        while next_at < end:
            now = time.perf_counter()
            if next_at > now:
                await asyncio.sleep(next_at - now)
                now = time.perf_counter()
            while next_at <= now and next_at < end:
                self.dispatch(next_at, now)
                next_at += random.expovariate(rate) if self.poisson else 1.0 / rate
        self.scheduling = False

    async def drain(self) -> None:
        """Open loop: await the requests in flight (up to the timeout: each is answered,
        or timed out by watch_timeouts); what is still queued was never sent (dropped),
        what is still unanswered timed out."""
        self.stats.dropped += len(self.waiting)
        self.waiting.clear()
        deadline = time.perf_counter() + float(self.spec["timeout"])
        while time.perf_counter() < deadline and \
                any(c.pending > 0 and c.transport is not None for c in self.connections):
            await asyncio.sleep(0.005)
        self.stats.errors["timeout"] += sum(
            c.pending for c in self.connections if c.pending > 0 and c.transport is not None)

    async def watch_timeouts(self) -> None:
        timeout = float(self.spec["timeout"])
        while self.running:
            await asyncio.sleep(min(0.25, timeout / 4))
            now = time.perf_counter()
            for conn in list(self.connections):
                if conn.pending > 0 and conn.transport is not None and \
                        now - conn.sent_at > timeout:
                    if self.stats.counting:
                        self.stats.errors["timeout"] += conn.pending
                    conn.closing = True
                    conn.transport.abort()
                    conn.pending = 0
                    self.reconnect(conn)

    async def run(self) -> dict[str, Any]:
        self.running = True
        # Connections that failed in the connect phase are retried once the load starts.
        missing = int(self.spec["connections"]) - len(self.connections)
        self.stats.counting = True
        started = time.perf_counter()
        self.stats.peak_connections = len(self.connections)
        for conn in list(self.connections):
            self.start(conn)
        for _ in range(missing):
            self.reconnect(self.factory(self))
        watcher = self.loop.create_task(self.watch_timeouts())
        duration = float(self.spec["duration"])
        if self.rate:
            self.scheduling = True
            await self.schedule(started, duration)
            elapsed = time.perf_counter() - started
            await self.drain()
            self.stats.counting = False
        else:
            await asyncio.sleep(duration)
            self.stats.counting = False
            elapsed = time.perf_counter() - started
        self.running = False
        watcher.cancel()
        for conn in self.connections:
            conn.closing = True
            if conn.transport is not None:
                conn.transport.abort()
        await asyncio.sleep(0)
        stats = self.stats
        out = {
            "requests": stats.requests,
            "duration_s": elapsed,
            "non_2xx": stats.non_2xx,
            "bad_body": stats.bad_body,
            "checked": stats.checked,
            "errors": stats.errors,
            "max_us": stats.max_us,
            "hdr": latency.encode(latency.from_counts(stats.hist)),
        }
        if self.rate:
            out["open_loop"] = {"scheduled": stats.scheduled, "sent": stats.sent,
                                "late": stats.late, "dropped": stats.dropped,
                                "connections": stats.peak_connections}
        return out


def _body_checker(test: str | None, good: set[bytes]) -> Any:
    if not test:
        return lambda body: True
    test_type = testtypes.get(test)
    good.update(test_type.fast_bodies)
    return lambda body: test_type.check_body(body) is None


async def _worker_main(spec: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    load = _Load(spec)
    await load.connect_all(int(spec["connections"]))
    connect_errors = load.stats.errors["connect"]
    load.stats.errors["connect"] = 0
    print(json.dumps({"ready": len(load.connections), "connect_errors": connect_errors}),
          flush=True)
    line = await loop.run_in_executor(None, sys.stdin.readline)
    if line.strip() != "go":
        return
    before = procstat.reading()  # this worker's own CPU over its window, not its start-up
    result = await load.run()
    after = procstat.reading()
    assert before is not None and after is not None  # this process can always be read
    result["usage"] = after.since(before)
    result["errors"]["connect"] += connect_errors
    print(json.dumps({"result": result}), flush=True)


def main() -> int:
    spec = json.loads(sys.stdin.readline())
    share = sys.stdin.readline().strip()
    if share.startswith("{"):  # open loop: connections, rate, phase, max_connections
        spec.update(json.loads(share))
    else:
        spec["connections"] = int(share)
    loops.run(_worker_main(spec), loop=spec.get("loop") or "auto")
    return 0


if __name__ == "__main__":
    sys.exit(main())
