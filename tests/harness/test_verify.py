"""Verification (asgibench.harness.verify): every check on canned responses, and against
the canned server, broken servers and nothing listening."""

from __future__ import annotations

import time
from email.utils import formatdate
from typing import Any

import pytest

from asgibench.harness import testtypes, verify
from asgibench.harness.httpclient import Response


def response(**changes: Any) -> Response:
    headers = [("server", "x"), ("date", "NOW"),  # rendered when checked
               ("content-type", "text/plain"), ("content-length", "13")]
    drop = changes.pop("drop", ())
    headers = [(k, v) for k, v in headers if k not in drop] + changes.pop("extra", [])
    base = {"status": 200, "http_version": "1.1", "headers": headers,
            "body": b"Hello, World!"}
    base.update(changes)
    return Response(**base)


def failing(resp: Response, test: str = "plaintext") -> set[str]:
    now = formatdate(time.time(), usegmt=True)
    resp.headers = [(k, now if v == "NOW" else v) for k, v in resp.headers]
    return {c.name for c in verify.check_response(testtypes.get(test), resp) if not c.ok}


def test_check_response_good() -> None:
    assert failing(response()) == set()


@pytest.mark.parametrize(
    ("resp", "expected"),
    [
        (response(status=500), {"status"}),
        (response(http_version="1.0"), {"http_version"}),
        (response(drop=("server",)), {"header_server"}),
        (response(drop=("date",)), {"header_date"}),
        (response(extra=[("date", "x")]), {"header_date"}),
        (response(drop=("date",), extra=[("date", "Mon, 01 Jan 2001 00:00:00 GMT")]),
         {"date_format"}),
        (response(drop=("date",), extra=[("date", "2001-01-01")]), {"date_format"}),
        (response(drop=("content-type",), extra=[("content-type", "text/html")]),
         {"content_type"}),
        (response(drop=("content-length",)), {"framing"}),
        (response(drop=("content-length",), extra=[("transfer-encoding", "chunked")]), set()),
        (response(extra=[("content-encoding", "gzip")]), {"no_compression"}),
        (response(body=b"Hello, world!"), {"body"}),
        (response(body=b"", drop=("content-length",), extra=[("content-length", "0")]),
         {"body"}),
    ],
)
def test_check_response_failures(resp: Response, expected: set[str]) -> None:
    assert failing(resp) == expected


def test_verify_canned_passes(canned_port: int) -> None:
    for test in [t for t in testtypes.resolve("all") if t.canned is not None]:
        outcome = verify.verify(test, "127.0.0.1", canned_port)
        assert outcome.passed, outcome.summary()
        names = {c.name for c in outcome.checks}
        assert "keep_alive" in names
        assert ("pipelining" in names) == (test.pipeline > 1)


@pytest.mark.parametrize(("mode", "check"), [("nodate", "header_date"), ("wrongbody", "body"),
                                             ("close", "keep_alive")])
def test_verify_catches_broken_servers(bad_server: Any, mode: str, check: str) -> None:
    port = bad_server(mode)
    outcome = verify.verify(testtypes.get("plaintext"), "127.0.0.1", port)
    assert not outcome.passed
    assert check in {c.name for c in outcome.failures()}, outcome.summary()


def test_verify_nothing_listening(unused_port: int) -> None:
    outcome = verify.verify(testtypes.get("json"), "127.0.0.1", unused_port)
    assert not outcome.passed and outcome.failures()[0].name == "exchange"


def test_date_refresh(canned_port: int, bad_server: Any) -> None:
    test = testtypes.get("json")
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert verify.check_date_refresh(test, "127.0.0.1", canned_port, old, 0).ok
    stale_port = bad_server("staledate")
    first = verify.verify(test, "127.0.0.1", stale_port)
    assert first.passed  # a stuck Date passes every single-response check...
    check = verify.check_date_refresh(test, "127.0.0.1", stale_port, first.first_date,
                                      time.monotonic() - 5)  # (pretend 5 s went by)
    assert not check.ok and "still" in check.detail  # ...but not the refresh check
    assert not verify.check_date_refresh(test, "127.0.0.1", canned_port, None, 0).ok
