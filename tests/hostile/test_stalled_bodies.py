"""Request bodies that never finish: the server must answer and close, not wait forever.

* A body that stops arriving (``Content-Length: 1000``, 10 bytes, then silence) is answered
  408 once ``--timeout-request-body`` passes, and the connection closed.
* A chunk size too large for any integer (``ffffffffffffffffffff``, 20 hex digits: 2**80 - 1)
  is malformed framing, not a promise of 1.2 yottabytes to wait for: 400 and close, at once,
  whichever parser reads it.
"""

from __future__ import annotations

import time

from .swarm import Swarm

BODY_TIMEOUT = 1.0
STALLED = b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"0123456789"
HUGE_CHUNK = (
    b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"ffffffffffffffffffff\r\nabc"
)


def _answer_and_close(
    address: tuple[str, int], request: bytes, within: float
) -> tuple[int | None, float | None, bytes]:
    """Send ``request``, then wait up to ``within`` s for the server to answer and close.

    Returns (status or None, seconds until the close or None, everything received).
    """
    with Swarm(address) as swarm:
        client = swarm.connect(request)
        swarm.run(within, until=lambda: client.closed)
        closed_after = (time.monotonic() - client.sent_all_at) if client.closed else None
        data = bytes(client.data)
    status = int(data[9:12]) if data[:9] in (b"HTTP/1.1 ", b"HTTP/1.0 ") else None
    return status, closed_after, data


def test_stalled_body_times_out_with_408(server):
    proc = server("--timeout-request-body", str(BODY_TIMEOUT))
    status, closed_after, data = _answer_and_close(proc.addr, STALLED, 3 * BODY_TIMEOUT + 1)
    print(f"status {status}, closed after {closed_after} s")
    assert status == 408, (
        f"expected a 408 within {3 * BODY_TIMEOUT + 1} s of the body stalling "
        f"(--timeout-request-body {BODY_TIMEOUT}); got {data[:200]!r}"
    )
    assert closed_after is not None, "the server answered 408 but kept the connection open"
    assert closed_after >= BODY_TIMEOUT * 0.9, f"408 after only {closed_after:.2f} s"


def test_overflowing_chunk_size_is_rejected(server):
    proc = server()
    status, closed_after, data = _answer_and_close(proc.addr, HUGE_CHUNK, 3.0)
    print(f"status {status}, closed after {closed_after} s")
    assert status == 400, (
        f"expected 400 for chunk size ffffffffffffffffffff; within 3 s got {data[:200]!r}"
        + ("" if data else " (nothing: the server is waiting for 2**80 bytes)")
    )
    assert closed_after is not None and closed_after < 1.0, (
        f"the server answered 400 but closed only after {closed_after} s (or not within 3 s)"
    )
