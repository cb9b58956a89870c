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

The exchanges go through the strict h11-based client in :mod:`asgibench.harness.httpclient`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from asgibench.errors import BenchError
from asgibench.harness import db
from asgibench.harness.db.app import STATS_PATH
from asgibench.harness.httpclient import IO_TIMEOUT, Client, Response, VerifyError
from asgibench.harness.testtypes import TestType
from asgibench.harness.workloads import Request, Workload, authority

DATE_FORMAT = "%a, %d %b %Y %H:%M:%S GMT"
DATE_SKEW_S = 10.0  # a Date this far from our clock is wrong (same machine)
DATE_REFRESH_WAIT = 2.0  # a Date re-rendered every second must differ after 2 s


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


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
    add(check_framing(response))
    coding = [v for v in response.values("content-encoding") if v.strip().lower() != "identity"]
    add(Check("no_compression", not coding, f"Content-Encoding {coding}" if coding else ""))
    if not response.body:
        add(Check("body", False, "empty body"))
    elif response.status == 200:
        problem = (check_body or test_type.check_body)(response.body)
        add(Check("body", problem is None, problem or ""))
    return checks


def check_framing(response: Response, method: str = "GET") -> Check:
    """Content-Length matching the body, or chunked (RFC 9112 §6). A HEAD response's
    Content-Length describes the GET body it stands for, so only its presence counts."""
    lengths = response.values("content-length")
    encodings = [v.strip().lower() for v in response.values("transfer-encoding")]
    if lengths:
        ok = len(lengths) == 1 and (method == "HEAD" or
                                    lengths[0].strip() == str(len(response.body)))
        return Check("framing", ok, "" if ok else
                     f"Content-Length {lengths} for a {len(response.body)}-byte body")
    if encodings and encodings[-1] == "chunked":
        return Check("framing", True, "chunked")
    return Check("framing", False, "neither Content-Length nor Transfer-Encoding: chunked")


def verify_workload(workload: Workload, host: str, port: int) -> Verification:
    """Verify a workload of the user's app: every request of it answered as expected
    (status, body expectations), over HTTP/1.1, framed; with ``keep-alive`` the
    connection stays open for a second round, with pipelining a pipelined batch is
    answered in order. No TechEmpower header rules: the app is the user's."""
    result = Verification(test=workload.name)
    close = workload.connection == "close"
    try:
        for request in workload.requests:
            with Client(host, port) as client:
                rounds = 1 if close else 2
                for round_no in range(1, rounds + 1):
                    response = client.exchange(request.method, request.path,
                                               request.headers, request.body,
                                               close=close, chunked=request.chunked)[0]
                    if round_no == 1:
                        result.first_date = result.first_date or \
                            (response.values("date") or [None])[0]
                        result.first_date_at = result.first_date_at or time.monotonic()
                    bad = [c for c in _workload_checks(request, response) if not c.ok]
                    name = request.label if round_no == 1 else f"keep_alive {request.label}"
                    result.checks.append(Check(name, not bad, _why(bad)))
                    if bad:
                        break
                    if not close and not response.keep_alive:
                        result.checks.append(Check(
                            f"keep_alive {request.label}", False,
                            "the server closed the connection (or said close)"))
                        break
                if workload.pipeline > 1 and not close and result.passed:
                    responses = client.exchange(request.method, request.path,
                                                request.headers, request.body,
                                                count=workload.pipeline,
                                                chunked=request.chunked)
                    bad = [c for r in responses for c in _workload_checks(request, r)
                           if not c.ok]
                    result.checks.append(Check(f"pipelining {request.label}", not bad,
                                               _why(bad)))
    except VerifyError as exc:
        result.checks.append(Check("exchange", False, str(exc)))
    return result


def _why(bad: list[Check]) -> str:
    return f"{bad[0].name}: {bad[0].detail}" if bad else ""


def _workload_checks(request: Request, response: Response) -> list[Check]:
    headers: dict[str, str] = {}
    for name, value in response.headers:
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    problem = request.check(response.status, response.body, headers)
    return [
        Check("expected", problem is None, problem or ""),
        Check("http_version", response.http_version == "1.1",
              "" if response.http_version == "1.1" else f"HTTP/{response.http_version}"),
        check_framing(response, request.method),
    ]


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


def verify_websocket(test_type: TestType, host: str, port: int,
                     timeout: float = IO_TIMEOUT) -> Verification:
    """Verify a WebSocket test type with the ``websockets`` library's sync client: the
    upgrade answered 101 with the right ``Sec-WebSocket-Accept`` (the library checks the
    key), every message of :data:`~asgibench.harness.testtypes.websocket_echo.VERIFY_SIZES`
    echoed byte for byte, as text and as binary, each in the frame type it was sent in,
    and a close (1000) answered with a close. No compression is offered, as the driver
    offers none."""
    from websockets.exceptions import WebSocketException
    from websockets.sync.client import connect

    from asgibench.harness.testtypes import websocket_echo

    result = Verification(test=test_type.name)
    add = result.checks.append
    url = f"ws://{authority(host, port)}{test_type.path}"
    try:
        ws = connect(url, open_timeout=timeout, close_timeout=timeout, compression=None,
                     max_size=None, ping_interval=None, proxy=None)
    except (OSError, TimeoutError, WebSocketException) as exc:
        add(Check("handshake", False, f"{url}: {type(exc).__name__}: {exc}"))
        return result
    with ws:
        status = ws.response.status_code if ws.response is not None else None
        add(Check("handshake", status == 101, "" if status == 101 else f"status {status}"))
        try:
            for size in websocket_echo.VERIFY_SIZES:
                for binary in (False, True):
                    sent = websocket_echo.message(size, size)
                    kind = "binary" if binary else "text"
                    name = f"echo {kind} {size} B"
                    ws.send(sent if binary else sent.decode("ascii"))
                    got = ws.recv(timeout=timeout)
                    got_bytes = got if isinstance(got, bytes) else got.encode("utf-8")
                    if isinstance(got, bytes) != binary:
                        answered = "binary" if isinstance(got, bytes) else "text"
                        add(Check(name, False, f"answered as {answered}"))
                    elif got_bytes != sent:
                        add(Check(name, False, f"echoed {len(got_bytes)} bytes "
                                  f"{got_bytes[:24]!r}, sent {size} bytes {sent[:24]!r}"))
                    else:
                        add(Check(name, True))
            ws.close(1000)
            answer = ws.protocol.close_rcvd
            ok = answer is not None and answer.code == 1000
            add(Check("close", ok, "" if ok else "no close frame in answer" if answer is None
                      else f"answered close {answer.code} {answer.reason!r}"))
        except (OSError, TimeoutError, WebSocketException) as exc:
            add(Check("exchange", False, f"{type(exc).__name__}: {exc}"))
    return result


#: Rows per request when a query type's statements and writes are verified: enough that
#: one IN (...) query (1 statement) cannot pass for N.
DB_CHECK_ROWS = 20


def verify_database(test: TestType, host: str, port: int, db_url: str | None) -> list[Check]:
    """A database type's checks beyond its bodies: the statements one request makes, as
    the database counts them (PostgreSQL's pg_stat_statements) or else the benchmark app
    (``GET /__asgibench/db-stats``, on the same connection, so the same worker process);
    and for a type that writes, that the rows it answered with are the rows in the
    database afterwards, changed (read directly, not through the app)."""
    rows = DB_CHECK_ROWS if test.level_kind == "queries" else 1
    path = test.level_path(rows) if test.level_kind == "queries" else test.path
    checks: list[Check] = []
    try:
        with Client(host, port) as client:
            counter = _StatementCounter(client, db_url)
            before_rows = db.read_world_sync(db_url) if test.writes and db_url else None
            before = counter.read()
            response = client.get(path, test.accept)[0]
            after = counter.read()
        if test.check_rows is not None:
            problem = test.check_rows(rows)(response.body)
            checks.append(Check(f"rows {rows}", problem is None, problem or ""))
        if test.statements is not None:
            checks.append(_statements_check(test.statements(rows), before, after,
                                            counter.source))
        if test.writes:
            checks.append(_writes_check(response.body, before_rows, db_url))
    except VerifyError as exc:
        checks.append(Check("statements", False, str(exc)))
    except BenchError as exc:
        checks.append(Check("database", False, str(exc)))
    return checks


class _StatementCounter:
    """Statement totals, from the database when it counts them, else from the app."""

    def __init__(self, client: Client, db_url: str | None) -> None:
        self.client, self.db_url = client, db_url
        self.source = "none"
        if db_url and db.statement_counts_sync(db_url) is not None:
            self.source = "pg_stat_statements"

    def read(self) -> dict[str, int] | None:
        if self.source == "pg_stat_statements":
            return db.statement_counts_sync(self.db_url)
        response = self.client.get(STATS_PATH, "application/json")[0]
        try:
            counts = json.loads(response.body) if response.status == 200 else None
        except ValueError:
            counts = None
        if isinstance(counts, dict) and counts:
            self.source = "the app's count"
            return {key: int(value) for key, value in counts.items()}
        return None


def _statements_check(expected: dict[str, tuple[int, int]], before: dict[str, int] | None,
                      after: dict[str, int] | None, source: str) -> Check:
    if before is None or after is None:
        return Check("statements", True, "not counted: neither pg_stat_statements nor the "
                                         "app's statistics route is there")
    made = {kind: after.get(kind, 0) - before.get(kind, 0) for kind in expected}
    wrong = [f"{kind} {made[kind]} (expected {low}" + (f"..{high})" if high != low else ")")
             for kind, (low, high) in expected.items() if not low <= made[kind] <= high]
    if wrong:
        return Check("statements", False, f"one request made {', '.join(wrong)} ({source})")
    said = ", ".join(f"{kind} {count}" for kind, count in made.items() if count)
    return Check("statements", True, f"{said or 'no statement'} ({source})")


def _writes_check(body: bytes, before: dict[int, int] | None, db_url: str | None) -> Check:
    if before is None or not db_url:
        return Check("update_persisted", True, "not checked: the database is not known "
                                               "here (give --db)")
    try:
        answered = {int(row["id"]): int(row["randomNumber"]) for row in json.loads(body)}
    except (ValueError, TypeError, KeyError):
        return Check("update_persisted", False, f"the answer is not rows: {body[:60]!r}")
    stored = db.read_world_sync(db_url, answered)
    lost = [i for i, value in answered.items() if stored.get(i) != value]
    if lost:
        return Check("update_persisted", False,
                     f"{len(lost)} of {len(answered)} rows answered are not in the database "
                     f"(id {lost[0]}: answered {answered[lost[0]]}, stored "
                     f"{stored.get(lost[0])})")
    changed = sum(before.get(i) != value for i, value in answered.items())
    # A random number in 1..10000 repeats the old one 1 time in 10,000: most must differ.
    if changed * 2 < len(answered):
        return Check("update_persisted", False,
                     f"only {changed} of {len(answered)} rows changed in the database")
    return Check("update_persisted", True, f"{changed} of {len(answered)} rows changed")
