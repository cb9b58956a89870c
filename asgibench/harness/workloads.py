"""Workloads: the requests a run sends to the user's own app (``--endpoint``,
``--scenario FILE.toml``), as one typed model every driver and report reads.

A workload is ranked like a test type: it has a name, concurrency levels, a pipelining
depth, a connection mode (``keep-alive``, or ``close`` for a new connection per request)
and one or more requests; several requests are a weighted mix. Each request carries what
its response must look like (status, a substring, JSON keys).

Mistakes in a scenario file are one line, ``FILE:LINE: what is wrong``, raised as
:class:`ScenarioError` (exit status 2) before any server starts. The line is TOML's own
for a syntax error, else the line of the offending key (or of its ``[[workload]]``).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asgibench.errors import BenchError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
CONNECTIONS = ("keep-alive", "close")
_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
_WORKLOAD_KEYS = {"name", "concurrency", "pipeline", "connection", "request"}
_REQUEST_KEYS = {"method", "path", "headers", "body", "body_file", "expect_status",
                 "expect_body_contains", "expect_json_keys", "weight"}


class ScenarioError(BenchError):
    """A mistake in a scenario file or an ``--endpoint``: one line, exit status 2."""


@dataclass(frozen=True)
class Request:
    """One request of a workload and what its response must be."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    expect_status: int | None = None  # None: any 2xx
    expect_body_contains: str | None = None
    expect_json_keys: tuple[str, ...] = ()
    weight: int = 1
    #: Send the body with ``Transfer-Encoding: chunked`` instead of ``Content-Length``.
    chunked: bool = False
    #: An exact check of the response beyond the expectations (built-in workloads: an
    #: upload's checksum, a gzip body that must decompress): ``(headers, body)`` -> None
    #: or a one-line reason; ``headers`` maps lower-cased names to values.
    check_exact: Callable[[Mapping[str, str], bytes], str | None] | None = \
        field(default=None, compare=False)

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}" + (" (chunked)" if self.chunked else "")

    def status_problem(self, status: int) -> str | None:
        """None when ``status`` is the expected one (``expect_status``, else any 2xx), else
        a one-line reason. Under load only this is checked: bodies were, at verification."""
        expected = self.expect_status
        if (status == expected) if expected is not None else 200 <= status <= 299:
            return None
        return f"status {status}, expected {expected if expected is not None else '2xx'}"

    def check(self, status: int, body: bytes,
              headers: Mapping[str, str] | None = None) -> str | None:
        """None when the response is what this request expects, else a one-line reason."""
        problem = self.status_problem(status)
        if problem:
            return problem
        if self.expect_body_contains is not None and \
                self.expect_body_contains.encode() not in body:
            return f"body does not contain {self.expect_body_contains!r}"
        if self.expect_json_keys:
            try:
                document = json.loads(body)
            except ValueError:
                return f"body is not JSON ({body[:40]!r})"
            if not isinstance(document, dict):
                return f"JSON body is a {type(document).__name__}, not an object"
            missing = [key for key in self.expect_json_keys if key not in document]
            if missing:
                return f"JSON body lacks {', '.join(map(repr, missing))}"
        if self.check_exact is not None:
            return self.check_exact(headers or {}, body)
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method, "path": self.path,
            "headers": [list(pair) for pair in self.headers],
            "body_bytes": len(self.body), "expect_status": self.expect_status,
            "expect_body_contains": self.expect_body_contains,
            "expect_json_keys": list(self.expect_json_keys), "weight": self.weight,
            **({"chunked": True} if self.chunked else {}),
        }


@dataclass(frozen=True)
class Workload:
    """What one ranked entry measures on the user's app."""

    name: str
    requests: tuple[Request, ...]
    concurrency: tuple[int, ...] = ()  # empty: the profile's levels
    pipeline: int = 1
    connection: str = "keep-alive"
    source: str = field(default="", compare=False)  # where it was defined, for messages

    def to_dict(self) -> dict[str, Any]:
        """The definition stored in a results file, so a report can say what was measured
        (bodies by size: they may be large or private)."""
        return {"name": self.name, "concurrency": list(self.concurrency),
                "pipeline": self.pipeline, "connection": self.connection,
                "requests": [request.to_dict() for request in self.requests]}


def slug(text: str) -> str:
    """``GET /items/{id}`` -> ``get-items-id``: a workload name usable in flags and file
    names."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "root"


def from_endpoint(spec: str, base: Path | None = None) -> Workload:
    """``--endpoint 'METHOD /path'`` or ``'POST /items @payload.json'`` (the body read from
    the file, relative to ``base``, default the current directory)."""
    where = f"--endpoint {spec!r}"
    parts = spec.split()
    if len(parts) not in (2, 3):
        raise ScenarioError(f"{where}: expected 'METHOD /path' or 'METHOD /path @FILE'")
    method, path = parts[0].upper(), parts[1]
    body = b""
    if len(parts) == 3:
        if not parts[2].startswith("@") or len(parts[2]) == 1:
            raise ScenarioError(f"{where}: a body is given as @FILE, not {parts[2]!r}")
        body = _read_body((base or Path.cwd()) / parts[2][1:], where)
    request = _request(method, path, where)
    request = Request(request.method, request.path, body=body,
                      headers=_content_type_for(body, parts[2][1:] if body else ""))
    return Workload(slug(f"{method} {path}"), (request,), source=where)


def load_scenario(path: str | Path) -> list[Workload]:
    """The workloads of a scenario file; :class:`ScenarioError` for any mistake."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such scenario file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read it ({getattr(exc, 'strerror', exc)})") \
            from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"\(at line (\d+), column \d+\)", message)
        line = match.group(1) if match else "1"
        what = re.sub(r" \(at line.*", "", message)
        raise ScenarioError(f"{path}:{line}: {what}") from None
    lines = _Lines(path, text)
    unknown = sorted(set(document) - {"workload"})
    if unknown:
        raise lines.error(f"unknown top-level key {unknown[0]!r} (a scenario has "
                          "[[workload]] tables)", key=unknown[0])
    raw_workloads = document.get("workload")
    if not isinstance(raw_workloads, list) or not raw_workloads:
        raise ScenarioError(f"{path}:1: no [[workload]] table")
    workloads = [_workload(raw, index, lines, path.parent)
                 for index, raw in enumerate(raw_workloads)]
    seen: set[str] = set()
    for index, workload in enumerate(workloads):
        if workload.name in seen:
            raise lines.error(f"workload name {workload.name!r} is used twice",
                              workload=index, key="name")
        seen.add(workload.name)
    return workloads


# -- internals ------------------------------------------------------------------------------


class _Lines:
    """Finds the line of a key in the k-th ``[[workload]]`` table, for error messages."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.starts = [i for i, line in enumerate(self.lines)
                       if re.match(r"\s*\[\[\s*workload\s*\]\]", line)]

    def error(self, message: str, workload: int | None = None, key: str | None = None,
              request: int | None = None) -> ScenarioError:
        return ScenarioError(f"{self.path}:{self.line(workload, key, request)}: {message}")

    def line(self, workload: int | None, key: str | None, request: int | None) -> int:
        begin, end = 0, len(self.lines)
        if workload is not None and workload < len(self.starts):
            begin = self.starts[workload]
            end = self.starts[workload + 1] if workload + 1 < len(self.starts) else end
        if request is not None:
            requests = [i for i in range(begin, end)
                        if re.match(r"\s*\[\[\s*workload\.request\s*\]\]", self.lines[i])]
            if request < len(requests):
                begin = requests[request]
                following = [i for i in requests if i > begin]
                end = following[0] if following else end
        if key is not None:
            pattern = re.compile(rf"\s*[\"']?{re.escape(key)}[\"']?\s*=")
            for i in range(begin, end):
                if pattern.match(self.lines[i]):
                    return i + 1
        return begin + 1


def _workload(raw: Any, index: int, lines: _Lines, base: Path) -> Workload:
    if not isinstance(raw, dict):
        raise lines.error("[[workload]] must be a table", workload=index)
    unknown = sorted(set(raw) - _WORKLOAD_KEYS)
    if unknown:
        raise lines.error(f"unknown key {unknown[0]!r} in [[workload]] (known: "
                          f"{', '.join(sorted(_WORKLOAD_KEYS))})", index, unknown[0])
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise lines.error("a workload needs name = \"...\" (lower-case letters, digits and "
                          "dashes: it is ranked and charted under it)", index, "name")
    concurrency = raw.get("concurrency", [])
    if isinstance(concurrency, int):
        concurrency = [concurrency]
    if not isinstance(concurrency, list) or not all(
            isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in concurrency):
        raise lines.error("concurrency must be a whole number >= 1 or a list of them",
                          index, "concurrency")
    pipeline = raw.get("pipeline", 1)
    if not isinstance(pipeline, int) or isinstance(pipeline, bool) or not 1 <= pipeline <= 1024:
        raise lines.error("pipeline must be a whole number from 1 to 1024", index, "pipeline")
    connection = raw.get("connection", "keep-alive")
    if connection not in CONNECTIONS:
        raise lines.error(f"connection must be one of {', '.join(CONNECTIONS)}, not "
                          f"{connection!r}", index, "connection")
    if connection == "close" and pipeline > 1:
        raise lines.error("connection = \"close\" sends one request per connection: it "
                          "cannot be pipelined", index, "pipeline")
    raw_requests = raw.get("request")
    if not isinstance(raw_requests, list) or not raw_requests:
        raise lines.error(f"workload {name!r} has no [[workload.request]]", index)
    requests = tuple(_scenario_request(r, index, i, lines, base)
                     for i, r in enumerate(raw_requests))
    return Workload(name, requests, tuple(sorted(set(concurrency))), pipeline, connection,
                    source=f"{lines.path}:{lines.line(index, None, None)}")


def _scenario_request(raw: Any, workload: int, index: int, lines: _Lines,
                      base: Path) -> Request:
    def error(message: str, key: str | None = None) -> ScenarioError:
        return lines.error(message, workload, key, index)

    if not isinstance(raw, dict):
        raise error("[[workload.request]] must be a table")
    unknown = sorted(set(raw) - _REQUEST_KEYS)
    if unknown:
        raise error(f"unknown key {unknown[0]!r} in [[workload.request]] (known: "
                    f"{', '.join(sorted(_REQUEST_KEYS))})", unknown[0])
    method = raw.get("method", "GET")
    if not isinstance(method, str):
        raise error("method must be a string", "method")
    path = raw.get("path")
    if not isinstance(path, str):
        raise error("a request needs path = \"/...\"", "path")
    try:
        request = _request(method.upper(), path, "")
    except ScenarioError as exc:
        raise error(str(exc).lstrip(": "), "path" if "path" in str(exc) else "method") \
            from None
    headers = raw.get("headers", {})
    if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise error("headers must be a table of strings, e.g. { Accept = \"...\" }",
                    "headers")
    for name in headers:
        if name.lower() in ("content-length", "transfer-encoding", "connection", "host"):
            raise error(f"header {name!r} is set by the load driver, not the scenario",
                        "headers")
    if "body" in raw and "body_file" in raw:
        raise error("give body or body_file, not both", "body_file")
    body = b""
    if "body" in raw:
        if not isinstance(raw["body"], str):
            raise error("body must be a string (or use body_file)", "body")
        body = raw["body"].encode()
    elif "body_file" in raw:
        if not isinstance(raw["body_file"], str):
            raise error("body_file must be a path", "body_file")
        body = _read_body(base / raw["body_file"], f"{lines.path}:"
                          f"{lines.line(workload, 'body_file', index)}")
    status = raw.get("expect_status")
    if status is not None and (not isinstance(status, int) or isinstance(status, bool)
                               or not 100 <= status <= 599):
        raise error("expect_status must be an HTTP status (100..599)", "expect_status")
    contains = raw.get("expect_body_contains")
    if contains is not None and not isinstance(contains, str):
        raise error("expect_body_contains must be a string", "expect_body_contains")
    keys = raw.get("expect_json_keys", [])
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise error("expect_json_keys must be a list of strings", "expect_json_keys")
    weight = raw.get("weight", 1)
    if not isinstance(weight, int) or isinstance(weight, bool) or weight < 1:
        raise error("weight must be a whole number >= 1", "weight")
    given = tuple((k, v) for k, v in headers.items())
    if body and not any(k.lower() == "content-type" for k, _ in given):
        given += _content_type_for(body, str(raw.get("body_file", "")))
    return Request(request.method, request.path, given, body, status, contains,
                   tuple(keys), weight)


def _request(method: str, path: str, where: str) -> Request:
    if method not in METHODS:
        raise ScenarioError(f"{where}: method {method!r} is not one of {', '.join(METHODS)}")
    if not path.startswith("/") or any(c.isspace() for c in path):
        raise ScenarioError(f"{where}: path {path!r} must start with / and hold no spaces")
    return Request(method, path)


def _read_body(path: Path, where: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"{where}: cannot read body file {str(path)!r} "
                            f"({exc.strerror or exc})") from None


def _content_type_for(body: bytes, name: str) -> tuple[tuple[str, str], ...]:
    """A Content-Type for a body given without one: JSON when it parses as JSON."""
    if not body:
        return ()
    if name.endswith(".json"):
        return (("Content-Type", "application/json"),)
    try:
        json.loads(body)
    except ValueError:
        return (("Content-Type", "application/octet-stream"),)
    return (("Content-Type", "application/json"),)


#: The chunk size of a chunked request body: large enough that framing is a small part of
#: the bytes, small enough that a 20 MiB upload arrives as hundreds of chunks.
CHUNK_SIZE = 64 * 1024


def authority(host: str, port: int) -> str:
    """``host:port`` as a ``Host`` header and a URL carry it (an IPv6 address bracketed,
    RFC 3986 §3.2.2)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def framing_headers(method: str, body: bytes, chunked: bool = False) -> list[tuple[str, str]]:
    """The body-framing header every client here sends: ``Transfer-Encoding: chunked``, or
    ``Content-Length`` when there is a body (or the method carries one)."""
    if chunked:
        return [("Transfer-Encoding", "chunked")]
    if body or method in ("POST", "PUT", "PATCH"):
        return [("Content-Length", str(len(body)))]
    return []


def wire(method: str, path: str, host: str, headers: Sequence[tuple[str, str]] = (),
         body: bytes = b"", close: bool = False, chunked: bool = False) -> bytes:
    """The bytes of one HTTP/1.1 request, as every client here sends it: Host, the given
    headers, the body's framing (:func:`framing_headers`) and ``Connection: keep-alive``
    or ``close``; a chunked body in :data:`CHUNK_SIZE` chunks (RFC 9112 §7.1)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}",
             *(f"{name}: {value}" for name, value in headers),
             *(f"{name}: {value}" for name, value in framing_headers(method, body, chunked))]
    lines.append(f"Connection: {'close' if close else 'keep-alive'}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if not chunked:
        return head + body
    chunks = [b"%x\r\n%s\r\n" % (len(body[i:i + CHUNK_SIZE]), body[i:i + CHUNK_SIZE])
              for i in range(0, len(body), CHUNK_SIZE)]
    return head + b"".join(chunks) + b"0\r\n\r\n"


def turn(workload: Workload) -> tuple[Request, ...]:
    """The workload's requests in the order the load drivers send them, each repeated by
    its weight and interleaved (weights 3 and 1: A A B A, not A A A B)."""
    order: list[Request] = []
    credit = dict.fromkeys(range(len(workload.requests)), 0)
    total = sum(r.weight for r in workload.requests)
    for _ in range(total):  # smooth weighted round-robin (as nginx balances upstreams)
        for index, request in enumerate(workload.requests):
            credit[index] += request.weight
        best = max(credit, key=lambda i: credit[i])
        credit[best] -= total
        order.append(workload.requests[best])
    return tuple(order)


def request_wire(request: Request, host: str, close: bool = False) -> bytes:
    """The bytes of ``request`` (``host`` as ``HOST:PORT``)."""
    return wire(request.method, request.path, host, request.headers, request.body, close,
                request.chunked)


def wires(workload: Workload, host: str) -> tuple[str, ...]:
    """:func:`turn` as the bytes the load drivers send, as latin-1 strings (JSON- and
    Lua-safe carriers of exact bytes)."""
    close = workload.connection == "close"
    return tuple(request_wire(r, host, close).decode("latin-1") for r in turn(workload))
