"""Apps run as asyncio tasks should: ``current_task()`` is theirs, context variables do not
leak between requests, cancellation (timeouts, anyio cancel scopes) reaches the app, and
keep-alive requests after one of those are unaffected.

Requests run in a task the core makes per keep-alive request (one per pipelined burst);
these tests hold it to task semantics.
"""

from __future__ import annotations

import pytest

from . import apps
from .client import get
from .conftest import wait_until


def _bodies(srv, paths: list[str]) -> list[bytes]:
    """One keep-alive connection, the paths one after the other."""
    out = []
    with srv.client() as client:
        for path in paths:
            client.send(get(path))
            response = client.read_final()
            assert response.status == 200, (path, response.status, response.body)
            out.append(response.body)
    return out


def test_current_task_and_context_per_request(serve):
    srv = serve(apps.task_semantics)
    bodies = _bodies(srv, ["/a", "/wait", "/b", "/wait", "/c"])
    assert bodies == [
        b"task=ok var=None,/a",
        b"task=ok var=None,/wait",
        b"task=ok var=None,/b",
        b"task=ok var=None,/wait",
        b"task=ok var=None,/c",
    ]


def test_pipelined_requests_each_see_their_own_context(serve):
    srv = serve(apps.task_semantics)
    with srv.client() as client:
        client.send(get("/a") + get("/wait") + get("/b"))
        bodies = [r.body for r in client.read_responses(3)]
    assert bodies == [b"task=ok var=None,/a", b"task=ok var=None,/wait",
                      b"task=ok var=None,/b"]


@pytest.mark.parametrize("path, said", [
    ("/wait-for-timeout", b"timed out;"),
    ("/cancel-self", b"cancelled;"),
    ("/cancel-and-return", b""),
])
def test_cancellation_reaches_the_app_and_spares_the_next_request(serve, path, said):
    srv = serve(apps.task_semantics)
    bodies = _bodies(srv, ["/a", path, "/b", path, "/wait", "/c"])
    own = said + b"task=ok var=None," + path.encode()
    assert bodies == [
        b"task=ok var=None,/a", own, b"task=ok var=None,/b", own,
        b"task=ok var=None,/wait", b"task=ok var=None,/c",
    ]


def test_anyio_cancel_scopes_and_task_groups(serve):
    srv = serve(apps.task_semantics)
    bodies = _bodies(srv, ["/anyio", "/a", "/anyio"])
    anyio_body = b"anyio moved-on 2;task=ok var=None,/anyio"
    assert bodies == [anyio_body, b"task=ok var=None,/a", anyio_body]


def test_connection_tasks_end_with_their_connections(serve):
    srv = serve(apps.task_semantics)
    state = srv.server._state
    for _ in range(3):
        assert _bodies(srv, ["/a", "/wait"])[1] == b"task=ok var=None,/wait"
    assert wait_until(lambda: not state.tasks and not state.connections, timeout=5), \
        f"{len(state.tasks)} task(s) outlived their connections"


def test_context_set_before_the_first_await_does_not_leak(serve):
    srv = serve(apps.SyncEntry())
    assert _bodies(srv, ["/a", "/b", "/c"]) == [b"entry=None"] * 3
    assert _bodies(srv, ["/d"]) == [b"entry=None"]  # nor into another connection


def test_a_late_cancel_from_an_answered_request_hits_nothing(serve):
    srv = serve(apps.task_semantics)
    bodies = _bodies(srv, ["/stale-cancel", "/slow", "/a"])
    assert bodies == [b"task=ok var=None,/stale-cancel", b"task=ok var=None,/slow",
                      b"task=ok var=None,/a"]
