"""Every parser adapter turns the same bytes into the same events (sans-I/O, no sockets)."""

from __future__ import annotations

import sys

import pytest

from asgibench import protocols
from asgibench.protocols.events import BodyData, MessageEnd, ProtocolError, RequestHead

PARSERS = protocols.available()


def parse(name: str, *chunks: bytes, limit: int = 65536) -> list[tuple]:
    parser = protocols.get_backend(name).parser_class()(limit)
    events = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    return [_plain(event) for event in events]


def _plain(event: object) -> tuple:
    if isinstance(event, RequestHead):
        headers = [(n.lower(), v) for n, v in event.headers]
        return ("head", event.method, event.target, event.http_version, headers)
    if isinstance(event, BodyData):
        return ("body", event.data)
    if isinstance(event, MessageEnd):
        return ("end",)
    assert isinstance(event, ProtocolError)
    return ("error", event.status)


def merge_body(events: list[tuple]) -> list[tuple]:
    """Parsers may split a body differently; compare the joined bytes."""
    merged: list[tuple] = []
    for event in events:
        if event[0] == "body" and merged and merged[-1][0] == "body":
            merged[-1] = ("body", merged[-1][1] + event[1])
        else:
            merged.append(event)
    return merged


def test_every_supported_parser_is_installed_here():
    # The [all] extra installs them all; zttp has no wheels for Python 3.10.
    expected = {"h11", "httptools"} | ({"zttp"} if sys.version_info >= (3, 11) else set())
    assert set(PARSERS) == expected


@pytest.mark.parametrize("name", PARSERS)
def test_pipelined_requests_of_every_framing(name):
    stream = (
        b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\nX-Dup: 1\r\nX-Dup: 2\r\n\r\n"
        b"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
        b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Checksum: t\r\n\r\n"
        b"GET /d HTTP/1.0\r\n\r\n"
    )
    assert merge_body(parse(name, stream)) == [
        ("head", b"GET", b"/a?x=1", "1.1", [(b"host", b"h"), (b"x-dup", b"1"), (b"x-dup", b"2")]),
        ("end",),
        ("head", b"POST", b"/b", "1.1", [(b"host", b"h"), (b"content-length", b"5")]),
        ("body", b"hello"),
        ("end",),
        ("head", b"POST", b"/c", "1.1", [(b"host", b"h"), (b"transfer-encoding", b"chunked")]),
        ("body", b"abcde"),
        ("end",),
        ("head", b"GET", b"/d", "1.0", []),
        ("end",),
    ]


@pytest.mark.parametrize("name", PARSERS)
def test_bytes_split_anywhere_give_the_same_events(name):
    stream = (
        b"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
        b"GET /c HTTP/1.1\r\nHost: h\r\n\r\n"
    )
    whole = merge_body(parse(name, stream))
    for cut in range(1, len(stream)):
        assert merge_body(parse(name, stream[:cut], stream[cut:])) == whole, cut


@pytest.mark.parametrize("name", PARSERS)
@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
    ids=["request-line", "header-name", "content-length", "two-lengths", "chunk-size"],
)
def test_malformed_input_is_a_400(name, raw):
    events = parse(name, raw)
    assert events[-1] == ("error", 400)
    assert ("end",) not in events


@pytest.mark.parametrize("name", PARSERS)
def test_head_over_the_limit_is_a_431_even_when_incomplete(name):
    head = b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + b"a" * 20000
    assert parse(name, head, limit=8192)[-1] == ("error", 431)


@pytest.mark.parametrize("name", PARSERS)
def test_head_under_the_limit_passes(name):
    head = b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + b"a" * 6000 + b"\r\n\r\n"
    assert parse(name, head, limit=8192)[-1] == ("end",)


@pytest.mark.parametrize("name", PARSERS)
def test_a_large_body_before_a_partial_head_is_not_counted_as_head(name):
    body = b"x" * 100_000
    stream = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)
    events = parse(name, stream + b"GET /next HTTP/1.1\r\nHost: h\r\n", limit=8192)
    assert [e[0] for e in merge_body(events)] == ["head", "body", "end"]


@pytest.mark.parametrize("name", PARSERS)
def test_a_head_trickling_in_over_the_limit_is_a_431(name):
    parser = protocols.get_backend(name).parser_class()(8192)
    events = parser.feed(b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: ")
    for _ in range(100):
        events = parser.feed(b"a" * 100)
        if events:
            break
    assert [_plain(e) for e in events] == [("error", 431)]


def test_h11_without_its_private_state_call_gives_the_same_events(monkeypatch):
    """The h11 adapter advances h11 past each request with ``_process_event`` when h11 has
    it, else with public ``send()``: both must parse the same pipelined stream alike."""
    import asgibench.protocols.h11 as adapter

    stream = (
        b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
        b"GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
        b"POST /c HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi"
        b"GET /d HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
        b"GET /e HTTP/1.1\r\nHost: h\r\n\r\n"
    )
    fast = parse("h11", stream)
    monkeypatch.setattr(adapter, "_HAS_PROCESS_EVENT", False)
    assert parse("h11", stream) == fast
    assert [event[2] for event in fast if event[0] == "head"] == [b"/a", b"/b", b"/c", b"/d",
                                                                  b"/e"]


@pytest.mark.parametrize("name", PARSERS)
def test_a_deep_pipeline_in_one_read_is_not_one_large_head(name):
    """3,900 small requests and the start of one more, in one read: no 431."""
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    events = parse(name, request * 3900 + b"GET /")
    assert events.count(("end",)) == 3900
    assert events[-1] == ("end",)


@pytest.mark.parametrize("name", PARSERS)
def test_many_tiny_chunks_before_a_partial_head_are_not_counted_as_head(name):
    body = b"1\r\na\r\n" * 40000 + b"0\r\n\r\n"
    stream = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    events = parse(name, stream + b"GET /next HTTP/1.1\r\nHost: h\r\n")
    assert [e[0] for e in merge_body(events)] == ["head", "body", "end"]


@pytest.mark.parametrize("name", PARSERS)
def test_an_overflowing_chunk_size_is_a_400(name):
    stream = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert parse(name, stream + b"ffffffffffffffffffff\r\nabc")[-1] == ("error", 400)


@pytest.mark.parametrize("name", PARSERS)
def test_connect_then_a_request_parses_as_two_requests(name):
    stream = (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
              b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    events = parse(name, stream)
    assert [e[0] for e in events] == ["head", "end", "head", "end"]
    assert events[0][1:3] == (b"CONNECT", b"example.com:443")
