"""Thousands of small pipelined requests in one send: every one answered, in order.

Each request is tiny (well under any head limit), so a 431 can only come from a parser
adapter that counts the bytes of earlier requests in the same read against the current
head's size.
"""

from __future__ import annotations

from .swarm import Swarm, parse_responses

REQUESTS = 5000
WITHIN = 15.0  # s for all the answers (h11 needs well under 1 s here)


def _request(number: int) -> bytes:
    # The shape of ``GET / HTTP/1.1\r\nHost: x\r\n\r\n``, numbered so the order shows.
    return b"GET /%05d HTTP/1.1\r\nHost: x\r\n\r\n" % number


def test_deep_pipeline_gets_every_answer_in_order(server):
    proc = server()
    burst = b"".join(_request(i) for i in range(REQUESTS))
    with Swarm(proc.addr) as swarm:
        client = swarm.connect(burst)  # one payload, sent as fast as the server takes it
        swarm.run(
            WITHIN,
            until=lambda: client.closed or client.data.count(b"HTTP/1.1 ") >= REQUESTS,
        )
        data = bytes(client.data)
        closed = client.closed

    responses, rest = parse_responses(data)
    statuses = [status for status, _ in responses]
    first_wrong = next(
        (i for i, (status, body) in enumerate(responses) if status != 200 or body != b"/%05d" % i),
        None,
    )
    figures = (
        f"{len(responses)} responses to {REQUESTS} pipelined requests "
        f"({statuses.count(200)} x 200, {statuses.count(431)} x 431"
        f"{', then the server closed' if closed else ''})"
    )
    print(figures)
    if first_wrong is not None:
        status, body = responses[first_wrong]
        if first_wrong >= REQUESTS:
            raise AssertionError(f"an extra response {status} {body[:80]!r}: {figures}")
        raise AssertionError(
            f"response #{first_wrong} is {status} {body[:80]!r}, expected 200 "
            f"{b'/%05d' % first_wrong!r}: {figures}"
        )
    assert len(responses) == REQUESTS, f"{figures}; unparsed tail: {rest[:200]!r}"
    assert not rest, f"bytes after the last response: {rest[:200]!r}"
