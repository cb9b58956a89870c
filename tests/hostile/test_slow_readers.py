"""Slow readers of one large body must not cost the server one copy of it each.

The app answers ``/big`` with one pre-built 32 MiB ``http.response.body`` message, the same
module-level bytes object every time. Clients with a tiny receive window request it and
then read slowly, or not at all.
"""

from __future__ import annotations

import time

from .apps import BIG_SIZE
from .conftest import NEEDS_PROC, RssSampler, mb
from .swarm import Peer, Swarm

pytestmark = NEEDS_PROC

CLIENTS = 8
RCVBUF = 4096
FIRST_BYTES_WITHIN = 3.0  # s from the request to the first response byte, for every client
HOLD = 1.5  # s the clients then sit on the connection (sipping or not reading at all)
SIP = 4096  # bytes a slow reader takes every SIP_EVERY s
SIP_EVERY = 0.1
# The body is referenced by the app, not copied by it: a server that writes it in pieces
# under flow control needs about one transport high-water mark (64 KiB-ish) per slow reader
# beyond the kernel's socket buffers, whatever the body size. One full copy per reader
# (joined with the head, or buffered whole in the transport) would be CLIENTS x 32 MiB =
# 256 MiB; a quarter of that is far above the honest figure and far below the copying one.
GROWTH_LIMIT = CLIENTS * BIG_SIZE // 4


def test_slow_readers_of_one_large_body(server):
    proc = server()
    pid = proc.proc.pid
    with Swarm(proc.addr) as warmup:  # whatever the first connection sets up, once
        peer = warmup.connect(b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
        warmup.run(5, until=lambda: b"ok" in peer.data)
    rss = RssSampler(pid)

    def stop_after_first_bytes(peer: Peer, chunk: bytes) -> None:
        if chunk:
            peer.reading = False  # from now on only the sips below read anything

    request = b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n"
    with Swarm(proc.addr) as swarm:
        clients = [
            swarm.connect(request, rcvbuf=RCVBUF, keep=False, on_data=stop_after_first_bytes)
            for _ in range(CLIENTS)
        ]
        sippers = clients[::2]  # every other client reads slowly; the rest not at all
        next_sip = time.monotonic() + SIP_EVERY

        def tick() -> None:
            nonlocal next_sip
            rss.tick()
            if time.monotonic() >= next_sip:
                next_sip += SIP_EVERY
                for peer in sippers:
                    if peer.first_byte_at is not None:
                        peer.recv_some(SIP)

        swarm.run(
            FIRST_BYTES_WITHIN,
            until=lambda: all(c.first_byte_at is not None for c in clients),
            tick=tick,
        )
        swarm.run(HOLD, tick=tick)
        rss.sample()
        latencies = [
            None if c.first_byte_at is None else c.first_byte_at - c.started for c in clients
        ]
        read = sum(c.received for c in clients)

    starved = [i for i, latency in enumerate(latencies) if latency is None]
    slowest = max((x for x in latencies if x is not None), default=float("nan"))
    figures = (
        f"RSS +{mb(rss.peak_growth)} at peak (+{mb(rss.growth)} at the end) for {CLIENTS} "
        f"readers of a {mb(BIG_SIZE)} body, limit {mb(GROWTH_LIMIT)}; clients read "
        f"{mb(read)} in all; slowest first byte {slowest:.2f} s"
    )
    print(figures)
    assert not starved, (
        f"clients {starved} got no byte within {FIRST_BYTES_WITHIN} s (starved); {figures}"
    )
    assert rss.peak_growth < GROWTH_LIMIT, (
        f"the server keeps about a copy of the body per slow reader: {figures}"
    )
