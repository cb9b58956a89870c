"""The byte streams every parser is benchmarked on (the same bytes for each parser)."""

from __future__ import annotations

SMALL_GET = (
    b"GET /plaintext HTTP/1.1\r\n"
    b"Host: localhost:8080\r\n"
    b"Accept: text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,*/*;q=0.7\r\n"
    b"Connection: keep-alive\r\n"
    b"\r\n"
)
#: TechEmpower's plaintext load: 16 requests pipelined in one write.
PIPELINED_16 = SMALL_GET * 16


def _chunked_post(chunks: int = 4, size: int = 1024) -> bytes:
    body = b"".join(b"%x\r\n%b\r\n" % (size, bytes([65 + i % 26]) * size)
                    for i in range(chunks))
    return (b"POST /upload HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            + body + b"0\r\n\r\n")


CHUNKED_POST = _chunked_post()


def _large_headers(count: int = 48, value_size: int = 160) -> bytes:
    lines = [b"GET /json?user=1234&session=abcdef HTTP/1.1", b"Host: localhost"]
    lines += [b"X-Custom-Header-%02d: %b" % (i, b"v" * value_size) for i in range(count)]
    lines.append(b"Cookie: " + b"; ".join(b"k%d=%b" % (i, b"x" * 40) for i in range(20)))
    return b"\r\n".join(lines) + b"\r\n\r\n"


#: About 9 KiB of head: under every parser's limit (zttp caps heads near 32 KiB).
LARGE_HEADERS = _large_headers()

STREAMS: dict[str, tuple[bytes, int]] = {
    # name: (bytes, requests in them)
    "small-get": (SMALL_GET, 1),
    "pipelined-16": (PIPELINED_16, 16),
    "chunked-post": (CHUNKED_POST, 1),
    "large-headers": (LARGE_HEADERS, 1),
}
