"""Flow control both ways: the server must not read an upload far ahead of the app, and a
client that does not read must pause the app's ``send()``.

Kernel socket buffers absorb a few MiB either way (they autotune), so the bounds are
"well below the total" (half of 16 MiB / 64 MiB), never a tight number.
"""

from __future__ import annotations

import hashlib
import socket
import time

import pytest

from . import apps
from .client import RawClient, wait_writable
from .conftest import HOST, wait_until

UPLOAD = bytes(range(256)) * 65536  # 16 MiB
UPLOAD_DIGEST = hashlib.sha256(UPLOAD).hexdigest()


@pytest.fixture(scope="module")
def stream_body() -> bytes:
    return b"".join(apps.stream_block(i) for i in range(64))


def test_large_upload_is_not_read_ahead_of_the_app(serve):
    app = apps.SlowUpload()
    srv = serve(app)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    sock.settimeout(5)
    sock.connect((HOST, srv.port))
    try:
        sock.sendall(
            b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(UPLOAD)
        )
        sock.setblocking(False)
        view = memoryview(UPLOAD)
        sent = 0
        while sent < len(UPLOAD):
            try:
                sent += sock.send(view[sent : sent + 65536])
            except BlockingIOError:
                if not wait_writable(sock, 0.3):
                    break  # nobody has read anything for 0.3 s: the server stopped reading
        accepted = sent
        assert accepted < len(UPLOAD) // 2, (
            f"the server took {accepted} of {len(UPLOAD)} bytes while the app read none"
        )
        app.release.set()
        sock.setblocking(True)
        sock.settimeout(10)
        sock.sendall(view[sent:])
        response = RawClient.adopt(sock, timeout=10).read_final()
    finally:
        sock.close()
    assert response.body == f"{len(UPLOAD)} {UPLOAD_DIGEST}".encode()
    assert app.largest_message < len(UPLOAD) // 2, app.largest_message


def test_slow_reader_pauses_the_apps_send(serve, stream_body):
    app = apps.BigStream(chunks=64)
    srv = serve(app)
    with RawClient(srv.addr, rcvbuf=65536, timeout=10, keep_log=False) as client:
        client.send(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
        assert wait_until(lambda: app.sent >= 1, 5), "the app never sent its first MiB"
        # Wait until the app's progress stops moving (it is paused in send()).
        last, stable_since = -1, time.monotonic()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            now = app.sent
            if now != last:
                last, stable_since = now, time.monotonic()
            elif time.monotonic() - stable_since > 0.3:
                break
            time.sleep(0.02)
        stalled_at = app.sent
        assert not app.done and stalled_at < 32, (
            f"the app sent {stalled_at} of 64 MiB to a client that read nothing"
        )
        response = client.read_final()
    assert response.status == 200
    assert len(response.body) == len(stream_body)
    assert response.body == stream_body
    assert app.done
