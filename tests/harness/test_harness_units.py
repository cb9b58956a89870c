"""The benchmark app, test types, verification, pinning, server launch plans, CLI helpers."""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import time
from email.utils import formatdate
from typing import Any

import pytest

from asgibench import loops, protocols
from asgibench.errors import BenchError
from asgibench.harness import peerloops, pinning, plan, servers, testtypes, verify
from asgibench.harness.runner import RunMarker
from asgibench.harness.verify import Response

# -- the app -----------------------------------------------------------------------------


async def call(app: Any, path: str) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "path": path, "method": "GET", "headers": []}, receive, send)
    start, body = sent
    return start["status"], dict(start["headers"]), body["body"]


def test_app_routes() -> None:
    from asgibench.harness.app import app

    status, headers, body = asyncio.run(call(app, "/plaintext"))
    assert (status, body) == (200, b"Hello, World!")
    assert headers[b"content-type"] == b"text/plain"
    assert headers[b"content-length"] == b"13"
    status, headers, body = asyncio.run(call(app, "/json"))
    assert status == 200 and json.loads(body) == {"message": "Hello, World!"}
    assert headers[b"content-type"] == b"application/json"
    assert int(headers[b"content-length"]) == len(body)
    assert asyncio.run(call(app, "/nope"))[0] == 404


def test_app_lifespan() -> None:
    from asgibench.harness.app import app

    async def run() -> list[str]:
        inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        out: list[str] = []

        async def receive() -> dict[str, Any]:
            return inbox.pop(0)

        async def send(message: dict[str, Any]) -> None:
            out.append(message["type"])

        await app({"type": "lifespan"}, receive, send)
        return out

    assert asyncio.run(run()) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_app_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    import asgibench.harness.app as app_module

    monkeypatch.setenv("ASGIBENCH_APP_DELAY_MS", "120")
    slowed = importlib.reload(app_module)
    try:
        assert slowed.DELAY_S == pytest.approx(0.12)
        started = time.perf_counter()
        asyncio.run(call(slowed.app, "/json"))
        assert time.perf_counter() - started >= 0.1
    finally:
        monkeypatch.delenv("ASGIBENCH_APP_DELAY_MS")
        importlib.reload(app_module)
    assert app_module.DELAY_S == 0


# -- test types --------------------------------------------------------------------------


def test_registry() -> None:
    assert testtypes.names()[:2] == ["plaintext", "json"]
    assert [t.name for t in testtypes.resolve("json,plaintext,json")] == ["json", "plaintext"]
    assert [t.name for t in testtypes.resolve("all")] == testtypes.names()
    with pytest.raises(BenchError, match="unknown test type 'db'"):
        testtypes.resolve("db")
    plaintext = testtypes.get("plaintext")
    assert plaintext.pipeline == 16 and plaintext.levels == (256, 1024, 4096, 16384)
    assert testtypes.get("json").levels == (16, 32, 64, 128, 256, 512)


def test_bodies_are_exact() -> None:
    plaintext, json_type = testtypes.get("plaintext"), testtypes.get("json")
    assert plaintext.check_body(b"Hello, World!") is None
    assert plaintext.check_body(b"hello, world!") is not None  # TFB would accept this
    assert json_type.check_body(b'{"message":"Hello, World!"}') is None
    assert json_type.check_body(b'{ "message" : "Hello, World!" }') is None
    assert json_type.check_body(b'{"message": "hello, world!"}') is not None
    assert json_type.check_body(b'{"message": "Hello, World!", "x": 1}') is not None
    assert json_type.check_body(b'["Hello, World!"]') is not None
    assert json_type.check_body(b"nope") is not None


def test_content_type_patterns() -> None:
    plain = testtypes.get("plaintext").content_type
    assert plain.fullmatch("text/plain") and plain.fullmatch("text/plain; charset=utf-8")
    assert plain.fullmatch("text/plain;charset=UTF-8")
    assert not plain.fullmatch("Text/Plain") and not plain.fullmatch("text/html")
    js = testtypes.get("json").content_type
    assert js.fullmatch("application/json") and not js.fullmatch("application/json; x=1")


# -- verification ------------------------------------------------------------------------


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
    for test in testtypes.resolve("all"):
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


# -- pinning -----------------------------------------------------------------------------


def test_cpu_lists() -> None:
    assert pinning.parse_cpu_list("0-2,5") == [0, 1, 2, 5]
    assert pinning.parse_cpu_list(" 3 ") == [3]
    for bad in ("", "a", "3-1", "-1", "1-"):
        with pytest.raises(BenchError):
            pinning.parse_cpu_list(bad)


def test_pin_plans() -> None:
    none = pinning.plan("none")
    assert not none.active and none.server is None and "disabled" in none.note
    auto = pinning.plan("auto")
    usable = pinning.usable_cpus()
    if pinning.supported() and len(usable) >= 2:
        assert auto.active and not set(auto.server or []) & set(auto.driver or [])
        assert sorted((auto.server or []) + (auto.driver or [])) == usable
        explicit = pinning.plan(f"{usable[0]}:{usable[-1]}")
        assert explicit.server == [usable[0]] and explicit.driver == [usable[-1]]
    else:
        assert not auto.active and auto.note
    with pytest.raises(BenchError, match="SERVER:DRIVER"):
        pinning.plan("0")
    with pytest.raises(BenchError, match="cannot use"):
        pinning.plan("0:4096")
    assert auto.to_dict()["method"] in ("sched_setaffinity", "none")


# -- servers -----------------------------------------------------------------------------


def test_asgibench_plan() -> None:
    loop, parser = loops.available()[0], protocols.available()[0]
    items = servers.SERVERS.plugin("asgibench").plan([loop, "nosuchloop"], [parser, "rust"],
                                            "127.0.0.1", 8000)
    launches = [i for i in items if isinstance(i, servers.Launch)]
    assert [(i.loop, i.parser) for i in launches] == [(loop, parser)]
    argv = launches[0].argv
    assert argv[:4] == [sys.executable, "-m", "asgibench", "serve"]
    assert ["--loop", loop] == argv[argv.index("--loop"):argv.index("--loop") + 2]
    assert "--no-access-log" in argv
    reasons = {(i.loop, i.parser): i.reason for i in items
               if isinstance(i, servers.Unsupported)}
    assert "granian" in reasons[(loop, "rust")]
    assert "not available" in reasons[("nosuchloop", parser)]


def test_peer_plans() -> None:
    hyper = servers.SERVERS.plugin("hypercorn")
    items = hyper.plan(["asyncio", "rloop"], ["h11", "httptools"], "127.0.0.1", 9)
    kinds = {(i.loop, i.parser): type(i).__name__ for i in items}
    assert kinds == {("asyncio", "h11"): "Launch", ("asyncio", "httptools"): "Unsupported",
                     ("rloop", "h11"): "Unsupported", ("rloop", "httptools"): "Unsupported"}
    granian = servers.SERVERS.plugin("granian")
    items = granian.plan(["asyncio"], ["httptools", "h11"], "127.0.0.1", 9)
    assert [(type(i).__name__, i.parser) for i in items] == [
        ("Launch", "rust"), ("Unsupported", "httptools"), ("Unsupported", "h11")]
    assert "--interface" in items[0].argv  # type: ignore[union-attr]


def test_uvicorn_plan_uses_loop_factories() -> None:
    pytest.importorskip("uvicorn")
    items = servers.SERVERS.plugin("uvicorn").plan(["asyncio"], ["h11"], "127.0.0.1", 9)
    argv = items[0].argv  # type: ignore[union-attr]
    assert argv[argv.index("--loop") + 1] == "asgibench.harness.peerloops:loop_asyncio"
    loop = peerloops.loop_asyncio()
    loop.close()


def test_server_resolution() -> None:
    assert [k.name for k in servers.resolve("asgibench")] == ["asgibench"]
    assert "asgibench" in [k.name for k in servers.resolve("all")]
    with pytest.raises(BenchError, match="unknown server 'nginx'"):
        servers.resolve("nginx")


# -- CLI helpers -------------------------------------------------------------------------


def test_levels_option() -> None:
    tests = ["plaintext", "json"]
    assert plan.parse_levels(("64,16",), tests) == {"plaintext": [16, 64], "json": [16, 64]}
    assert plan.parse_levels(("8", "json=4,2"), tests) == {"plaintext": [8], "json": [2, 4]}
    for bad in ("x", "0", "db=4", ","):
        with pytest.raises(BenchError):
            plan.parse_levels((bad,), tests)


def test_cap_levels() -> None:
    levels, notes = plan.cap_levels({"plaintext": [256, 16384]}, 4096)
    assert levels == {"plaintext": [256]} and "16384" in notes[0]
    levels, _ = plan.cap_levels({"plaintext": [16384]}, 1024)
    assert levels == {"plaintext": [1024 - plan.FD_HEADROOM]}
    assert plan.cap_levels({"json": [16]}, None) == ({"json": [16]}, [])


def test_loop_and_parser_names() -> None:
    names, notes = plan.resolve_loops("all", platform="linux")
    assert "selector" not in names and notes
    assert plan.resolve_loops("selector", platform="linux")[0] == ["selector"]
    assert plan.resolve_loops("auto")[0] == [loops.auto_name()]
    with pytest.raises(BenchError, match="unknown loop"):
        plan.resolve_loops("turbo")
    assert plan.resolve_parsers("all") == protocols.available()
    assert plan.resolve_parsers("rust,h11") == ["rust", "h11"]
    with pytest.raises(BenchError, match="unknown parser 'picohttp'"):
        plan.resolve_parsers("picohttp")


# -- concurrent runs ---------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX only")
def test_run_marker_finds_other_runs(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import tempfile

    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    folder = tmp_path / "asgibench-runs"
    folder.mkdir()
    (folder / str(os.getppid())).write_text("bench run")  # alive
    (folder / "999999999").write_text("bench run")  # no such process
    marker = RunMarker()
    with marker as others:
        assert others == [os.getppid()]
        assert (folder / str(os.getpid())).exists()
    assert not (folder / str(os.getpid())).exists()
    assert not (folder / "999999999").exists()  # stale marker cleaned up


def test_pipeline_option_sets_depth_per_test_or_for_all():
    tests = testtypes.resolve("plaintext,json")
    by_name = {t.name: t.pipeline for t in plan.apply_pipeline(tests, ("plaintext=1",))}
    assert by_name == {"plaintext": 1, "json": 1}
    by_name = {t.name: t.pipeline for t in plan.apply_pipeline(tests, ("4", "json=2"))}
    assert by_name == {"plaintext": 4, "json": 2}
    by_name = {t.name: t.pipeline for t in plan.apply_pipeline(tests, ())}
    assert by_name == {"plaintext": 16, "json": 1}


@pytest.mark.parametrize("value", ["plaintext=0", "plaintext=x", "nope=2"])
def test_pipeline_option_rejects_bad_values(value):
    with pytest.raises(BenchError):
        plan.apply_pipeline(testtypes.resolve("plaintext,json"), (value,))
