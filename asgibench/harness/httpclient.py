"""A minimal strict HTTP/1.1 client over a plain socket: one connection, pipelining,
responses parsed with h11 (a strict HTTP/1.1 parser).

Verification (:mod:`asgibench.harness.verify`) checks what it returns; the runner, ``bench
cost`` and ``bench memory`` use it to see whether a server answers.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Sequence
from dataclasses import dataclass

import h11

from asgibench.harness import workloads

IO_TIMEOUT = 5.0
_MAX_BODY = 1 << 20


@dataclass
class Response:
    status: int
    http_version: str
    headers: list[tuple[str, str]]  # names lower-cased, values exactly as sent
    body: bytes
    keep_alive: bool = True

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


class VerifyError(Exception):
    """The exchange itself failed (connect, timeout, unparsable response)."""


class Client:
    """A minimal strict HTTP/1.1 client on one connection; supports pipelining."""

    def __init__(self, host: str, port: int, timeout: float = IO_TIMEOUT) -> None:
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise VerifyError(f"cannot connect to {host}:{port}: {exc}") from exc
        self.sock.settimeout(timeout)
        self.timeout = timeout
        self.host = workloads.authority(host, port)
        self.conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_BODY)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request_bytes(self, path: str, accept: str) -> bytes:
        return self._wire("GET", path, (("Accept", accept),), b"")

    def _wire(self, method: str, path: str, headers: Sequence[tuple[str, str]],
              body: bytes, close: bool = False, chunked: bool = False) -> bytes:
        return workloads.wire(method, path, self.host, headers, body, close, chunked)

    def get(self, path: str, accept: str, count: int = 1) -> list[Response]:
        """Send ``count`` requests in one write (pipelined when > 1), read all answers."""
        return self.exchange("GET", path, (("Accept", accept),), b"", count)

    def exchange(self, method: str, path: str, headers: Sequence[tuple[str, str]] = (),
                 body: bytes = b"", count: int = 1, close: bool = False,
                 chunked: bool = False) -> list[Response]:
        """Send ``count`` identical requests in one write (pipelined when > 1), read every
        answer; ``close`` asks the server to close after it (``Connection: close``);
        ``chunked`` sends the body with ``Transfer-Encoding: chunked``."""
        wire = self._wire(method, path, headers, body, close, chunked)
        try:
            self.sock.sendall(wire * count)
        except OSError as exc:
            raise VerifyError(f"cannot send the request: {exc}") from exc
        return [self._read_one(method, path, headers, body, close, chunked)
                for _ in range(count)]

    def _read_one(self, method: str, path: str, headers: Sequence[tuple[str, str]],
                  body: bytes, close: bool, chunked: bool = False) -> Response:
        conn = self.conn
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            try:
                conn.start_next_cycle()
            except h11.LocalProtocolError as exc:
                raise VerifyError("the server closed the connection after one response") \
                    from exc
        # Tell h11 what we sent (the bytes already went out raw).
        sent = [("Host", self.host), *headers,
                *workloads.framing_headers(method, body, chunked)]
        if close:
            sent.append(("Connection", "close"))
        conn.send(h11.Request(method=method, target=path, headers=sent))
        if body:
            conn.send(h11.Data(data=body))
        conn.send(h11.EndOfMessage())
        head: h11.Response | None = None
        body = bytearray()
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise VerifyError(f"malformed response: {exc}") from exc
            if event is h11.NEED_DATA:
                try:
                    data = self.sock.recv(65536)
                except TimeoutError as exc:
                    raise VerifyError("no complete response within "
                                      f"{self.timeout:g} s") from exc
                except OSError as exc:
                    raise VerifyError(f"connection failed: {exc}") from exc
                conn.receive_data(data)
                if not data and conn.their_state is not h11.DONE and head is None:
                    raise VerifyError("the server closed the connection without answering")
                continue
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise VerifyError("the server closed the connection mid-response")
        assert head is not None
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in head.headers]
        return Response(
            status=head.status_code,
            http_version=head.http_version.decode("ascii"),
            headers=headers,
            body=bytes(body),
            keep_alive=conn.their_state is h11.DONE and conn.our_state is h11.DONE
            and not any(k == "connection" and "close" in v.lower() for k, v in headers),
        )
