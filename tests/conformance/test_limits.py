"""--limit-concurrency (503 beyond it) and --limit-max-requests (exit after N)."""

from __future__ import annotations

import time

import pytest

from . import apps
from .client import RawClient, get
from .conftest import connection_refused


def test_limit_concurrency_answers_503(serve):
    app = apps.Gate()
    srv = serve(app, limit_concurrency=1)
    with srv.client() as busy:
        busy.send(get("/wait"))
        assert app.entered.wait(5)
        try:
            with srv.client() as second:
                second.send(get("/"))
                response = second.read_final()
            assert response.status == 503
        finally:
            app.release.set()
        released = busy.read_final()
        assert (released.status, released.body) == (200, b"released")
    # Once the busy connection is gone, requests are served again.
    deadline = time.monotonic() + 5
    while True:
        response = srv.request(get("/"))
        if response.status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert response.status == 200


def test_limit_max_requests_stops_the_server(serve):
    srv = serve(apps.hello, limit_max_requests=3)
    with srv.client() as client:
        client.send(get("/"))
        assert client.read_final().status == 200
    with srv.client() as client:
        client.send(get("/") + get("/"))
        assert [r.status for r in client.read_responses(2)] == [200, 200]
    srv.thread.join(5)
    assert not srv.thread.is_alive(), "server still running after limit_max_requests=3"
    assert connection_refused(srv.addr, timeout=2)


@pytest.mark.slow
def test_cli_limit_max_requests_exits(spawn):
    process = spawn(["app_module:app", "--limit-max-requests", "3"])
    process.wait_ready()
    for _ in range(3):
        with RawClient(process.addr) as client:
            client.send(get("/"))
            assert client.read_final().status == 200
    assert process.wait(10) == 0, process.stderr()
