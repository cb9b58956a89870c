"""Drive many non-blocking client sockets from one thread with ``selectors``.

A ``Swarm`` owns any number of ``Peer`` connections to one server address. Each peer has
bytes to send (sent as fast as the server accepts them) and either reads everything the
server sends or nothing at all (``peer.reading``); hooks let a test react to what arrives
(close mid-response, stop reading after the first bytes...). ``Swarm.run()`` is the only
loop, always bounded by a timeout, and calls ``tick()`` between events so a test can sample
the server's memory, read slowly, or open more connections while others are in flight.

Everything is counted per peer (bytes sent and received, when the first byte arrived, when
the send last made progress), so tests assert on what each client saw.
"""

from __future__ import annotations

import contextlib
import errno
import re
import selectors
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

_R = selectors.EVENT_READ
_W = selectors.EVENT_WRITE
_SEND_SLICE = 1 << 18
_RECV_SIZE = 1 << 16


class Peer:
    """One client connection; its counters are what the test asserts on."""

    def __init__(
        self,
        swarm: Swarm,
        sock: socket.socket,
        payload: bytes,
        *,
        reading: bool,
        keep: bool,
        on_data: Callable[[Peer, bytes], None] | None,
        tag: Any,
    ) -> None:
        self.swarm = swarm
        self.sock = sock
        self.tag = tag
        self.out = memoryview(payload)
        self.payload_size = len(payload)
        self.connected = False
        self._reading = reading
        self.keep = keep
        self.on_data = on_data
        self.data = bytearray()  # everything received, if ``keep``
        self.sent = 0
        self.received = 0
        self.started = time.monotonic()
        self.sent_all_at: float | None = None
        self.last_send_progress = self.started
        self.first_byte_at: float | None = None
        self.eof = False  # the server closed (FIN or RST)
        self.reset = False  # ... with a RST, or a send failed with EPIPE/ECONNRESET
        self.closed = False  # our socket is closed (by us or after the server's close)
        self._events = 0

    # What the test controls

    @property
    def reading(self) -> bool:
        return self._reading

    @reading.setter
    def reading(self, value: bool) -> None:
        self._reading = value
        self.swarm._update(self)

    def recv_some(self, limit: int) -> int:
        """Read up to ``limit`` bytes now if any are there (a slow reader's sip)."""
        if self.closed:
            return 0
        try:
            chunk = self.sock.recv(limit)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            chunk = b""
            self.reset = True
        self._got(chunk)
        return len(chunk)

    def close(self, *, rst: bool = False) -> None:
        """Close our end: a FIN, or with ``rst`` an abortive close (SO_LINGER 0 -> RST)."""
        if self.closed:
            return
        self.closed = True
        self.swarm._forget(self)
        if rst:
            with contextlib.suppress(OSError):
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            self.sock.close()

    def stop_sending(self) -> None:
        """Drop whatever of the payload is still unsent."""
        self.out = memoryview(b"")
        self.swarm._update(self)

    @property
    def send_done(self) -> bool:
        return not self.out

    @property
    def stalled_for(self) -> float:
        """Seconds since the server last accepted a byte (0 once everything is sent)."""
        if not self.out:
            return 0.0
        return time.monotonic() - self.last_send_progress

    # Driven by the swarm

    def _on_writable(self) -> None:
        if not self.connected:
            error = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if error:
                self.reset = self.eof = True
                self.close()
                return
            self.connected = True
        while self.out:
            try:
                n = self.sock.send(self.out[:_SEND_SLICE])
            except (BlockingIOError, InterruptedError):
                break
            except OSError:  # EPIPE / ECONNRESET: the server is gone
                self.reset = self.eof = True
                self.out = memoryview(b"")
                self.close()
                return
            self.sent += n
            self.out = self.out[n:]
            now = time.monotonic()
            self.last_send_progress = now
            if not self.out:
                self.sent_all_at = now
        self.swarm._update(self)

    def _on_readable(self) -> None:
        try:
            chunk = self.sock.recv(_RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
            self.reset = True
        self._got(chunk)

    def _got(self, chunk: bytes) -> None:
        if chunk:
            if self.first_byte_at is None:
                self.first_byte_at = time.monotonic()
            self.received += len(chunk)
            if self.keep:
                self.data += chunk
        else:
            self.eof = True
        if self.on_data is not None:
            self.on_data(self, chunk)  # may close the peer or stop its reading
        if not chunk:
            self.close()


class Swarm:
    """Many non-blocking connections to ``address``; ``run()`` drives them all."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.address = address
        self.selector = selectors.DefaultSelector()
        self.peers: list[Peer] = []
        self.open: set[Peer] = set()

    def __enter__(self) -> Swarm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close_all()
        self.selector.close()

    def connect(
        self,
        payload: bytes = b"",
        *,
        reading: bool = True,
        keep: bool = True,
        rcvbuf: int | None = None,
        sndbuf: int | None = None,
        on_data: Callable[[Peer, bytes], None] | None = None,
        tag: Any = None,
    ) -> Peer:
        """Open one connection (non-blocking); ``payload`` is sent once it is up.

        ``rcvbuf``/``sndbuf`` are set before connect(), so the window is small from the
        first segment on (set later, the kernel may already have advertised more).
        """
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if sndbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        sock.setblocking(False)
        code = sock.connect_ex(self.address)
        peer = Peer(self, sock, payload, reading=reading, keep=keep, on_data=on_data, tag=tag)
        self.peers.append(peer)
        if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
            peer.reset = peer.eof = peer.closed = True
            sock.close()
            return peer
        peer.connected = code == 0
        self.open.add(peer)
        self._update(peer)
        return peer

    def run(
        self,
        timeout: float,
        *,
        until: Callable[[], bool] | None = None,
        tick: Callable[[], None] | None = None,
    ) -> bool:
        """Drive every open peer for at most ``timeout`` s, or until ``until()`` is true.

        ``tick()`` runs after every batch of events (and at least every 20 ms). Returns
        whether ``until()`` became true (always False without one: it ran the full time).
        """
        deadline = time.monotonic() + timeout
        while True:
            if tick is not None:
                tick()
            if until is not None and until():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if not self.selector.get_map():
                time.sleep(min(remaining, 0.02))
                continue
            for key, events in self.selector.select(min(remaining, 0.02)):
                peer: Peer = key.data
                if events & _W and not peer.closed:
                    peer._on_writable()
                if events & _R and not peer.closed:
                    peer._on_readable()

    def close_all(self, *, rst: bool = False) -> None:
        for peer in list(self.open):
            peer.close(rst=rst)

    # Registration

    def _update(self, peer: Peer) -> None:
        if peer.closed:
            return
        events = 0
        if peer.out or not peer.connected:
            events |= _W
        if peer._reading:
            events |= _R
        if events == peer._events:
            return
        if peer._events == 0:
            self.selector.register(peer.sock, events, peer)
        elif events == 0:
            self.selector.unregister(peer.sock)
        else:
            self.selector.modify(peer.sock, events, peer)
        peer._events = events

    def _forget(self, peer: Peer) -> None:
        self.open.discard(peer)
        if peer._events:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self.selector.unregister(peer.sock)
            peer._events = 0


# --------------------------------------------------------------------------------------
# Reading what came back

_STATUS = re.compile(rb"HTTP/1\.[01] (\d{3}) ")
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3})(?: |\r|$)")


class StatusCounter:
    """An ``on_data`` hook counting response status lines as they stream in.

    Only the counts are kept, so a test can read many MB of responses without storing
    them. Bodies must not contain ``HTTP/1.x NNN `` (the hostile apps' bodies do not).
    """

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.first_other: int | None = None  # first status that is not 2xx, if any
        self.first_other_at: int | None = None  # ... and its position among responses
        self._tail = b""

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def __call__(self, peer: Peer, chunk: bytes) -> None:
        data = self._tail + chunk
        seen = len(self._tail)
        for match in _STATUS.finditer(data):
            if match.end() <= seen:
                continue  # counted with the previous chunk
            status = int(match.group(1))
            if not 200 <= status < 300 and self.first_other is None:
                self.first_other, self.first_other_at = status, self.total
            self.counts[status] = self.counts.get(status, 0) + 1
        self._tail = data[-16:]


def parse_responses(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """Split ``data`` into (status, body) pairs framed by Content-Length; returns the
    responses and the unparsed rest (a response without Content-Length ends the parse)."""
    responses: list[tuple[int, bytes]] = []
    view = memoryview(data)
    pos = 0
    while True:
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            break
        head = bytes(view[pos:end])
        match = _STATUS_LINE.match(head)
        length = re.search(rb"\r\ncontent-length: *(\d+)", head, re.IGNORECASE)
        if match is None or length is None:
            break
        body_start = end + 4
        body_end = body_start + int(length.group(1))
        if body_end > len(data):
            break
        responses.append((int(match.group(1)), bytes(view[body_start:body_end])))
        pos = body_end
    return responses, bytes(view[pos:])
