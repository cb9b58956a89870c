"""Litestar under ``bench serve``: a ``Stream`` response, connection reuse after it, and
a prompt SIGTERM shutdown afterwards."""

from __future__ import annotations

import signal
import sys
import time

import pytest
from conformance.client import RawClient, http_request

from .conftest import (
    COMBOS,
    DELAY,
    N_CHUNKS,
    SIGTERM_CLEAN_EXIT,
    assert_streamed,
    expected_chunks,
    running,
    server_fixture,
    timed_request,
)

# Chunks must arrive within PROMPT of being produced: alone on the machine under xdist.
pytestmark = [pytest.mark.timeout(30), pytest.mark.quiet]
server = server_fixture("litestar_app:app", warmup="/ping")
STREAM = f"/stream?n={N_CHUNKS}&delay={DELAY}"


def test_plain(server, client):
    response = client.get(server.url + "/ping")
    assert response.status_code == 200
    assert response.text == "pong"
    assert response.headers["content-type"].startswith("text/plain")


def test_stream_chunks_arrive_as_produced(server, client):
    timed = timed_request(client, "GET", server.url + STREAM)
    assert timed.response.status_code == 200
    assert timed.response.headers["content-type"] == "application/octet-stream"
    chunks = expected_chunks()
    assert timed.body == b"".join(chunks)
    assert_streamed(timed, chunks)


def _stream_then_ping(conn: RawClient) -> float:
    """A Stream response, then /ping on the same connection; returns the ping's latency."""
    conn.send(http_request("GET", STREAM))
    first = conn.read_final()
    assert first.status == 200, first
    assert first.body == b"".join(expected_chunks()), first
    assert first.header("connection") != b"close", first
    start = time.monotonic()
    conn.send(http_request("GET", "/ping"))
    second = conn.read_final()
    latency = time.monotonic() - start
    assert (second.status, second.body) == (200, b"pong"), second
    return latency


def test_keep_alive_connection_reusable_after_stream(server):
    # 3 s: well under the 5 s keep-alive timer a stuck Stream would otherwise wait for.
    with RawClient(server.addr, timeout=3) as conn:
        latency = _stream_then_ping(conn)
        assert latency < 0.5, f"second request on the connection answered after {latency:.2f} s"
        # ... and again: the connection keeps working.
        latency = _stream_then_ping(conn)
        assert latency < 0.5, f"third request answered after {latency:.2f} s"


@pytest.mark.skipif(
    sys.platform == "win32",
    reason="Windows has no SIGTERM for another process (send_signal terminates it outright)",
)
@pytest.mark.parametrize("combo", COMBOS)
def test_sigterm_after_stream_exits_promptly(combo, tmp_path):
    with running("litestar_app:app", combo, tmp_path, warmup="/ping") as server:
        # A long read timeout, so that a held-back response still gets to the SIGTERM part.
        with RawClient(server.addr, timeout=10) as conn:
            conn.send(http_request("GET", STREAM))
            response = conn.read_final()
            assert response.status == 200
            assert response.body == b"".join(expected_chunks())
            # The keep-alive connection stays open and idle; now stop the server.
            start = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            status = server.wait(5)
            took = time.monotonic() - start
            assert status is not None, f"still running 5 s after SIGTERM:\n{server.log()}"
            assert status in SIGTERM_CLEAN_EXIT, (
                f"exit status {status} after SIGTERM:\n{server.log()}"
            )
            assert conn.read_until_eof(timeout=1) == b"", "idle connection got data at shutdown"
        assert took < 5
