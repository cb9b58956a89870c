"""The HttpArena-style built-in test types (short-lived, upload, compression, static,
mixed): their checks, their requests on the wire, verification against a real server on
loopback, and a deliberately broken app failing verification."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import h11
import pytest

from asgibench.harness import app, ranking, results, testtypes, verify, workloads
from asgibench.harness.testtypes import compression, mixed, plaintext, static, upload
from tests.harness.apps import broken_arena
from tests.harness.conftest import free_port, start, stop

ARENA = ("short-lived", "upload", "compression", "static", "mixed")
APPS = Path(__file__).resolve().parent / "apps"


def test_the_five_are_registered_and_run_by_all() -> None:
    names = [t.name for t in testtypes.resolve("all")]
    assert names[names.index("short-lived"):][:5] == list(ARENA)
    for name in ARENA:
        test = testtypes.get(name)
        assert test.workload is not None and test.workload.name == name
        assert test.canned is None  # no canned answer: measured without a ceiling


def test_the_app_serves_every_route_of_the_five() -> None:
    for name in ARENA:
        for request in testtypes.get(name).workload.requests:
            assert request.path in app.ROUTES, request.label


def test_a_chunked_request_is_framed_as_rfc_9112_says() -> None:
    body = upload.payload(3 * workloads.CHUNK_SIZE + 10)
    wire = workloads.wire("POST", "/upload", "h:1", (), body, chunked=True)
    server = h11.Connection(h11.SERVER)
    server.receive_data(wire)
    head = server.next_event()
    assert (b"transfer-encoding", b"chunked") in head.headers
    assert not any(name == b"content-length" for name, _ in head.headers)
    got = b""
    while not isinstance(event := server.next_event(), h11.EndOfMessage):
        got += event.data
    assert got == body


def test_upload_answer_is_checked_exactly() -> None:
    sent = upload.payload(1000)
    right = b'{"length": 1000, "crc32": %d}' % upload.answer(sent)["crc32"]
    assert upload.check_answer(right, sent) is None
    assert "expected" in upload.check_answer(b'{"length": 1000, "crc32": 1}', sent)
    assert "not JSON" in upload.check_answer(b"ok", sent)


def test_compression_must_be_gzip_of_the_document() -> None:
    good = compression.compress(compression.document())
    assert len(compression.document()) > 900_000
    assert compression.check_response({"content-encoding": "gzip"}, good) is None
    assert "Content-Encoding" in compression.check_response({}, good)
    assert "decompress" in compression.check_response({"content-encoding": "gzip"},
                                                      b"\x1f\x8bnot gzip")
    assert "decompress" in compression.check_response({"content-encoding": "gzip"},
                                                      good[:-100])
    other = gzip.compress(b"[]")
    assert "not the document" in compression.check_response({"content-encoding": "gzip"},
                                                             other)


@pytest.mark.parametrize(("value", "accepted"), [
    (b"gzip", True), (b"deflate, gzip;q=0.5", True), (b"GZIP", True), (b"*", True),
    (b"gzip;q=0", False), (b"identity", False), (b"", False), (b"*, gzip;q=0", False),
    (b"br;q=1, *;q=0.1", True), (b"gzip;q=x", False),
])
def test_gzip_is_used_only_when_accepted(value: bytes, accepted: bool) -> None:
    assert compression.accepts_gzip(value) is accepted


def test_static_files_on_disk_are_the_expected_bytes() -> None:
    where = static.files_dir()
    sizes = {name: size for name, (size, _) in static.FILES.items()}
    assert min(sizes.values()) == 1024 and max(sizes.values()) == 1024 * 1024
    for name in static.FILES:
        assert (where / name).read_bytes() == static.content(name)
        assert static.check_body(static.content(name)) is None
    assert static.check_body(bytes(1024)) is not None


def test_mixed_accepts_each_answer_of_its_mix_and_nothing_else() -> None:
    small = upload.payload(mixed.UPLOAD_SIZE)
    for body in (plaintext.BODY, b'{"message":"Hello, World!"}', static.content("4k.bin"),
                 b'{"length": %d, "crc32": %d}' % (len(small), upload.answer(small)["crc32"])):
        assert mixed.check_body(body) is None
    assert mixed.check_body(b"Hello, World") is not None
    weights = {r.label: r.weight for r in testtypes.get("mixed").workload.requests}
    assert weights == {"GET /plaintext": 3, "GET /json": 3, "GET /static/4k.bin": 2,
                       "GET /static/64k.bin": 1, "POST /upload": 1}


@pytest.fixture(params=[("uvloop", "httptools"), ("asyncio", "h11")], ids="-".join)
def served(request: pytest.FixtureRequest) -> Iterator[int]:
    """The built-in app on ``bench serve``, on a fast and a strict combination."""
    loop, proto = request.param
    if loop == "uvloop":
        pytest.importorskip("uvloop", reason="uvloop is not installed on this platform")
    port = free_port()
    proc = start([sys.executable, "-m", "asgibench", "serve", "asgibench.harness.app:app",
                  "--port", str(port), "--loop", loop, "--proto", proto], port)
    yield port
    stop(proc)


@pytest.mark.parametrize("name", ARENA)
def test_each_type_verifies_on_a_real_server(served: int, name: str) -> None:
    outcome = verify.verify_workload(testtypes.get(name).workload, "127.0.0.1", served)
    assert outcome.passed, outcome.summary()
    labels = [check.name for check in outcome.checks]
    if name == "upload":
        assert labels[:2] == ["POST /upload", "keep_alive POST /upload"]
        assert "POST /upload (chunked)" in labels


def test_without_pathsend_the_app_sends_the_files_itself(unused_port: int) -> None:
    """uvicorn offers no pathsend: the built-in app reads the files and sends them as body
    messages, byte-exact."""
    pytest.importorskip("uvicorn", reason="uvicorn (a peer) is not installed")
    proc = start([sys.executable, "-m", "uvicorn", "asgibench.harness.app:app", "--port",
                  str(unused_port), "--log-level", "warning"], unused_port)
    try:
        outcome = verify.verify_workload(testtypes.get("static").workload, "127.0.0.1",
                                         unused_port)
    finally:
        stop(proc)
    assert outcome.passed, outcome.summary()


@pytest.fixture
def broken_port() -> Iterator[int]:
    port = free_port()
    proc = start([sys.executable, "-m", "asgibench", "serve",
                  "tests.harness.apps.broken_arena:app", "--port", str(port),
                  "--loop", "asyncio", "--proto", "h11"], port)
    yield port
    stop(proc)


def test_a_wrong_checksum_and_a_broken_gzip_fail_verification(broken_port: int) -> None:
    bad_upload = verify.verify_workload(testtypes.get("upload").workload, "127.0.0.1",
                                        broken_port)
    assert not bad_upload.passed
    assert "crc32" in bad_upload.summary() and "expected" in bad_upload.summary()
    bad_gzip = verify.verify_workload(testtypes.get("compression").workload, "127.0.0.1",
                                      broken_port)
    assert not bad_gzip.passed and "does not decompress" in bad_gzip.summary()
    fine = verify.verify_workload(testtypes.get("static").workload, "127.0.0.1",
                                  broken_port)
    assert fine.passed, fine.summary()


DRIVERS = ["python"] + (["wrk"] if shutil.which("wrk") else [])


@pytest.mark.slow
@pytest.mark.parametrize("driver", DRIVERS)
def test_the_five_run_verified_and_ranked(tmp_path: Path, driver: str) -> None:
    """``bench run`` measures the five on asgibench's server through each driver: each
    entry verified, with requests and no errors, ranked, in one results file."""
    out = tmp_path / "run.json"
    proc = subprocess.run(
        [sys.executable, "-m", "asgibench", "run", "--test", ",".join(ARENA),
         "--server", "asgibench", "--loop", "asyncio", "--proto", "h11", "--driver", driver,
         # 0.6 s: a 20 MiB upload at 4 connections must finish inside the window even on
         # a loaded machine (0.3 s measured none once).
         "--levels", "4", "--duration", "0.6", "--warmup", "0", "--repeat", "1",
         "--quiet", "--out", str(out)],
        capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr
    run = results.load(out)
    assert sorted(e.test for e in run.entries) == sorted(ARENA)
    for entry in run.entries:
        assert entry.status == "ok", (entry.test, entry.reason)
        assert entry.verification is not None and entry.verification.passed
        measured = entry.levels[0].repeats[0]
        assert measured.requests > 0 and not measured.error_count, entry.test
    rankings = ranking.rank_run(run)
    for name in ARENA:
        assert rankings[name], name
    assert "upload" in proc.stdout and "each type's own weight" in proc.stdout


@pytest.mark.slow
def test_a_broken_app_is_listed_as_failed_and_the_run_goes_on(tmp_path: Path,
                                                               broken_port: int) -> None:
    """bench run against a server answering an upload with a wrong checksum and a gzip
    body that does not decompress: those two entries failed with the reason, static
    measured."""
    out = tmp_path / "run.json"
    proc = subprocess.run(
        [sys.executable, "-m", "asgibench", "run", "--url", f"http://127.0.0.1:{broken_port}",
         "--test", "upload,compression,static", "--driver", "python", "--levels", "4",
         "--duration", "0.3", "--warmup", "0", "--repeat", "1", "--quiet", "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    by_test = {entry.test: entry for entry in results.load(out).entries}
    assert by_test["static"].status == "ok"
    for name, why in (("upload", "crc32"), ("compression", "does not decompress")):
        entry = by_test[name]
        assert entry.status == "failed" and entry.phase == "verify", name
        assert why in entry.reason, entry.reason


@pytest.mark.slow
def test_a_built_in_type_is_body_checked_under_load(tmp_path: Path, broken_port: int) -> None:
    """The Python driver checks every body of a built-in workload type against the type's
    own check: /plaintext that turns wrong after verification counts as bad bodies."""
    out = tmp_path / "run.json"
    proc = subprocess.run(
        [sys.executable, "-m", "asgibench", "run", "--url", f"http://127.0.0.1:{broken_port}",
         "--test", "short-lived", "--driver", "python", "--levels", "2", "--duration", "0.3",
         "--warmup", "0", "--repeat", "1", "--quiet", "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    (entry,) = results.load(out).entries
    assert entry.verification is not None and entry.verification.passed
    (repeat,) = entry.levels[0].repeats
    assert repeat.bad_body > 0
    assert repeat.requests - repeat.bad_body <= broken_arena.RIGHT_PLAINTEXT_ANSWERS
