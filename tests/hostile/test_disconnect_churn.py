"""Clients that leave mid-request or mid-response: no leak, and no error in the log.

One "disconnect pair" is two connections:

* mid-request: ``POST /upload`` with ``Content-Length: 1000`` and ``Expect: 100-continue``
  plus 10 body bytes; once the ``100 Continue`` shows the app is waiting in ``receive()``
  for the rest, the client closes. The app gets ``http.disconnect`` and returns without a
  response: nobody is left to answer.
* mid-response: ``GET /stream`` (a chunk every 10 ms); the client closes after the first
  chunk, and the app stops streaming when its ``receive()`` reports the disconnect.

Pairs alternate a FIN and an abortive close (RST). A client leaving is not an application
error, so the server's log must stay free of ERROR lines and tracebacks; and what each
connection costs must be given back, so after a warm-up RSS stays flat.
"""

from __future__ import annotations

import time

from .conftest import NEEDS_PROC, error_lines, known_loop_bug, mb, open_fds, rss_bytes, wait_idle
from .swarm import Peer, Swarm

pytestmark = NEEDS_PROC

PAIRS = 1000
WARMUP = 300  # pairs before the baseline: allocator pools, caches, first-time imports
CONCURRENCY = 40  # connections in flight at once
GROWTH_LIMIT = 4 * 1024 * 1024  # over the last 700 pairs (1,400 connections): ~3 KB each
PHASE_TIMEOUT = 30.0

MID_REQUEST = (
    b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
    b"Expect: 100-continue\r\n\r\n" + b"0123456789"
)
MID_RESPONSE = b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"


class Churn:
    """Opens the pairs' connections, CONCURRENCY at a time, and closes each at its point."""

    def __init__(self, swarm: Swarm) -> None:
        self.swarm = swarm
        self.queued = 0
        self.reached = 0  # connections that got to their disconnect point
        self.unexpected: list[bytes] = []  # what came instead, for the ones that did not

    def queue(self, pairs: int) -> None:
        self.queued += 2 * pairs

    def _left(self, peer: Peer, chunk: bytes) -> None:
        kind, rst = peer.tag
        data = peer.data
        if kind == "request":
            point = data.startswith(b"HTTP/1.1 100 ") and b"\r\n\r\n" in data
        else:  # the head and the first chunk (256 bytes) of the stream
            end = data.find(b"\r\n\r\n")
            point = end >= 0 and len(data) >= end + 4 + 256
        if point:
            self.reached += 1
            peer.close(rst=rst)
        elif not chunk:
            self.unexpected.append(bytes(data[:200]))

    def refill(self) -> None:
        while self.queued and len(self.swarm.open) < CONCURRENCY:
            self.queued -= 1
            number = self.queued
            rst = (number // 2) % 2 == 1
            if number % 2:
                self.swarm.connect(MID_REQUEST, on_data=self._left, tag=("request", rst))
            else:
                self.swarm.connect(MID_RESPONSE, on_data=self._left, tag=("response", rst))

    def run(self) -> bool:
        done = self.swarm.run(
            PHASE_TIMEOUT,
            until=lambda: not self.queued and not self.swarm.open,
            tick=self.refill,
        )
        self.swarm.close_all()
        return done


def test_disconnect_churn(server, request):
    known_loop_bug(
        request,
        "rloop",
        "rloop 0.5 keeps one socket open per closed connection (2 fds and ~5 KB per pair)",
    )
    proc = server()
    pid = proc.proc.pid
    started = time.monotonic()
    with Swarm(proc.addr) as swarm:
        churn = Churn(swarm)
        churn.queue(WARMUP)
        warm_done = churn.run()
        wait_idle(pid)  # the apps notice their clients left, and return
        before, fds_before = rss_bytes(pid), open_fds(pid)
        churn.queue(PAIRS - WARMUP)
        rest_done = churn.run()
        wait_idle(pid)
        after, fds_after = rss_bytes(pid), open_fds(pid)
        elapsed = time.monotonic() - started

    errors = error_lines(proc.stderr())
    growth = after - before
    figures = (
        f"{churn.reached} of {2 * PAIRS} connections reached their disconnect point in "
        f"{elapsed:.1f} s; RSS {mb(before)} after {WARMUP} pairs, +{mb(growth)} over the "
        f"next {PAIRS - WARMUP} (limit {mb(GROWTH_LIMIT)}); open fds {fds_before} -> "
        f"{fds_after}; {len(errors)} error lines"
    )
    print(figures)
    assert warm_done and rest_done, f"the churn did not finish in time: {figures}"
    assert churn.reached == 2 * PAIRS, (
        f"{figures}; instead of the expected bytes the server sent e.g. {churn.unexpected[:3]!r}"
    )
    assert not errors, (
        f"a client leaving was logged as an error: {figures}; first lines: {errors[:3]!r}"
    )
    assert growth < GROWTH_LIMIT, f"memory grows with disconnects: {figures}"
