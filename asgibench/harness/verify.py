"""Verification: TechEmpower's response checks, made stricter, run before any load.

For each test type (see ``docs/techempower.md``): status 200 over HTTP/1.1;
``Server``, ``Date`` and ``Content-Type`` present exactly once; ``Date`` in the RFC 7231
form (``%a, %d %b %Y %H:%M:%S GMT``) and within a few seconds of this machine's clock;
Content-Type matching the type's pattern exactly (case-sensitive, unlike TFB);
``Content-Length`` (matching the body) or chunked; no compression; the body exactly right.
Beyond TFB: the connection must stay open for a second request, and types driven with
pipelining must answer a pipelined batch correctly and in order. The ``Date`` refresh
check (TFB: fetched again 3 s later, it must have changed) is :func:`check_date_refresh`,
called by the runner once at least :data:`DATE_REFRESH_WAIT` seconds have passed.

Responses are parsed with h11, a strict HTTP/1.1 parser, over a plain socket.
"""

from __future__ import annotations

import contextlib
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import h11

from asgibench.harness.testtypes import TestType

DATE_FORMAT = "%a, %d %b %Y %H:%M:%S GMT"
DATE_SKEW_S = 10.0  # a Date this far from our clock is wrong (same machine)
DATE_REFRESH_WAIT = 2.0  # a Date re-rendered every second must differ after 2 s
IO_TIMEOUT = 5.0
_MAX_BODY = 1 << 20


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass
class Response:
    status: int
    http_version: str
    headers: list[tuple[str, str]]  # names lower-cased, values exactly as sent
    body: bytes
    keep_alive: bool = True

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


@dataclass
class Verification:
    """The outcome for one test type on one server."""

    test: str
    checks: list[Check] = field(default_factory=list)
    first_date: str | None = None
    first_date_at: float = 0.0

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def summary(self) -> str:
        bad = self.failures()
        if not bad:
            return "passed"
        return "; ".join(f"{c.name}: {c.detail}" for c in bad[:3])

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "checks": [check.to_dict() for check in self.checks]}


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
        self.host = f"{host}:{port}"
        self.conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_BODY)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request_bytes(self, path: str, accept: str) -> bytes:
        return (
            f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\nAccept: {accept}\r\n"
            "Connection: keep-alive\r\n\r\n"
        ).encode("latin-1")

    def get(self, path: str, accept: str, count: int = 1) -> list[Response]:
        """Send ``count`` requests in one write (pipelined when > 1), read all answers."""
        try:
            self.sock.sendall(self.request_bytes(path, accept) * count)
        except OSError as exc:
            raise VerifyError(f"cannot send the request: {exc}") from exc
        return [self._read_one(path, accept) for _ in range(count)]

    def _read_one(self, path: str, accept: str) -> Response:
        conn = self.conn
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            try:
                conn.start_next_cycle()
            except h11.LocalProtocolError as exc:
                raise VerifyError("the server closed the connection after one response") \
                    from exc
        # Tell h11 what we sent (the bytes already went out raw).
        conn.send(h11.Request(method="GET", target=path,
                              headers=[("Host", self.host), ("Accept", accept)]))
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


def parse_date(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, DATE_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def check_response(test_type: TestType, response: Response, check_body: Any = None,
                   now: float | None = None) -> list[Check]:
    """Every per-response check, in a stable order (names are part of the results)."""
    checks: list[Check] = []
    add = checks.append
    add(Check("status", response.status == 200, f"status {response.status}"
              if response.status != 200 else ""))
    add(Check("http_version", response.http_version == "1.1",
              "" if response.http_version == "1.1" else f"HTTP/{response.http_version}"))
    for name in ("server", "date", "content-type"):
        count = len(response.values(name))
        if count != 1:
            add(Check(f"header_{name}", False,
                      "missing" if count == 0 else f"sent {count} times"))
        else:
            add(Check(f"header_{name}", True))
    dates = response.values("date")
    if len(dates) == 1:
        parsed = parse_date(dates[0])
        if parsed is None:
            add(Check("date_format", False, f"{dates[0]!r} is not '{DATE_FORMAT}'"))
        else:
            skew = abs(parsed.timestamp() - (now if now is not None else time.time()))
            add(Check("date_format", skew <= DATE_SKEW_S,
                      "" if skew <= DATE_SKEW_S else f"{dates[0]!r} is {skew:.0f} s off"))
    types = response.values("content-type")
    if len(types) == 1:
        ok = test_type.content_type.fullmatch(types[0]) is not None
        add(Check("content_type", ok, "" if ok else
                  f"{types[0]!r} does not match {test_type.content_type.pattern}"))
    lengths = response.values("content-length")
    encodings = [v.strip().lower() for v in response.values("transfer-encoding")]
    if lengths:
        ok = len(lengths) == 1 and lengths[0].strip() == str(len(response.body))
        add(Check("framing", ok, "" if ok else
                  f"Content-Length {lengths} for a {len(response.body)}-byte body"))
    elif encodings and encodings[-1] == "chunked":
        add(Check("framing", True, "chunked"))
    else:
        add(Check("framing", False, "neither Content-Length nor Transfer-Encoding: chunked"))
    coding = [v for v in response.values("content-encoding") if v.strip().lower() != "identity"]
    add(Check("no_compression", not coding, f"Content-Encoding {coding}" if coding else ""))
    if not response.body:
        add(Check("body", False, "empty body"))
    elif response.status == 200:
        problem = (check_body or test_type.check_body)(response.body)
        add(Check("body", problem is None, problem or ""))
    return checks


def verify(test_type: TestType, host: str, port: int) -> Verification:
    """Run every check for ``test_type`` against the server at ``host:port``."""
    result = Verification(test=test_type.name)
    try:
        with Client(host, port) as client:
            first = client.get(test_type.path, test_type.accept)[0]
            result.first_date = (first.values("date") or [None])[0]
            result.first_date_at = time.monotonic()
            result.checks.extend(check_response(test_type, first))
            if not first.keep_alive:
                result.checks.append(Check("keep_alive", False,
                                           "the server closed the connection (or said close)"))
            else:
                second = client.get(test_type.path, test_type.accept)[0]
                bad = [c for c in check_response(test_type, second) if not c.ok]
                result.checks.append(Check("keep_alive", not bad,
                                           _first_detail(bad, "second request")))
                if test_type.pipeline > 1 and second.keep_alive:
                    result.checks.append(_check_pipelining(client, test_type))
        for url, check_body in test_type.extra_checks:
            with Client(host, port) as client:
                response = client.get(url, test_type.accept)[0]
            bad = [c for c in check_response(test_type, response, check_body) if not c.ok]
            result.checks.append(Check(f"url {url}", not bad, _first_detail(bad, url)))
    except VerifyError as exc:
        result.checks.append(Check("exchange", False, str(exc)))
    return result


def _check_pipelining(client: Client, test_type: TestType) -> Check:
    depth = test_type.pipeline
    try:
        responses = client.get(test_type.path, test_type.accept, count=depth)
    except VerifyError as exc:
        return Check("pipelining", False, f"{depth} pipelined requests: {exc}")
    for index, response in enumerate(responses, 1):
        bad = [c for c in check_response(test_type, response) if not c.ok]
        if bad:
            return Check("pipelining", False,
                         _first_detail(bad, f"pipelined response {index}/{depth}"))
    return Check("pipelining", True, f"{depth} pipelined responses correct, in order")


def _first_detail(bad: list[Check], where: str) -> str:
    if not bad:
        return ""
    return f"{where}: {bad[0].name}: {bad[0].detail}"


def check_date_refresh(test_type: TestType, host: str, port: int, first_date: str | None,
                       first_at: float, timeout: float = IO_TIMEOUT) -> Check:
    """Fetch again >= DATE_REFRESH_WAIT s after ``first_at``: Date must have changed."""
    if first_date is None:
        return Check("date_refresh", False, "no Date in the first response")
    wait = DATE_REFRESH_WAIT - (time.monotonic() - first_at)
    if wait > 0:
        time.sleep(wait)
    try:
        with Client(host, port, timeout=timeout) as client:
            again = client.get(test_type.path, test_type.accept)[0]
    except VerifyError as exc:
        return Check("date_refresh", False, str(exc))
    second = (again.values("date") or [None])[0]
    ok = second is not None and second != first_date
    elapsed = time.monotonic() - first_at
    return Check("date_refresh", ok, "" if ok else
                 f"Date still {first_date!r} {elapsed:.1f} s later")
