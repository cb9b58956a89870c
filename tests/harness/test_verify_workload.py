"""Verifying a workload against a real app on real servers (bench serve, uvicorn)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from asgibench.harness import verify
from asgibench.harness.workloads import Request, Workload

from .conftest import free_port, start, stop

APP = "tests.harness.apps.items:app"
ROOT = Path(__file__).resolve().parents[2]

SERVERS = {
    "asgibench": [sys.executable, "-m", "asgibench", "serve", APP, "--loop", "asyncio",
                  "--proto", "h11", "--log-level", "warning"],
    "uvicorn": [sys.executable, "-m", "uvicorn", APP, "--loop", "asyncio", "--http", "h11",
                "--log-level", "warning"],
}


@pytest.fixture(params=sorted(SERVERS))
def server(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.chdir(ROOT)  # the app module is imported from the current directory
    port = free_port()
    proc = start([*SERVERS[request.param], "--port", str(port)], port)
    try:
        yield port
    finally:
        stop(proc)


ITEMS = Workload("items", (
    Request("GET", "/items/7", (("Accept", "application/json"),),
            expect_json_keys=("id", "name")),
    Request("POST", "/items", (("Content-Type", "application/json"),), b'{"a": 1}',
            expect_status=201, expect_body_contains='"bytes":8'),
    Request("HEAD", "/health"),
), pipeline=4)


def test_a_good_workload_passes_every_check(server: int) -> None:
    outcome = verify.verify_workload(ITEMS, "127.0.0.1", server)
    assert outcome.passed, outcome.summary()
    names = {check.name for check in outcome.checks}
    assert {"GET /items/7", "keep_alive POST /items", "pipelining HEAD /health"} <= names
    assert outcome.first_date


@pytest.mark.parametrize(("request_", "needle"), [
    (Request("GET", "/broken", expect_json_keys=("id", "name")), "lacks 'name'"),
    (Request("GET", "/missing"), "status 404, expected 2xx"),
    (Request("GET", "/health", expect_status=204), "status 200, expected 204"),
    (Request("POST", "/items", body=b"not json", expect_status=201), "status 500"),
])
def test_a_wrong_answer_fails_with_the_first_wrong_response(server: int, request_: Request,
                                                            needle: str) -> None:
    outcome = verify.verify_workload(Workload("w", (request_,)), "127.0.0.1", server)
    assert not outcome.passed
    assert needle in outcome.summary(), outcome.summary()


def test_connection_close_workloads_do_not_need_keep_alive(server: int) -> None:
    workload = Workload("short", (Request("GET", "/health"),), connection="close")
    outcome = verify.verify_workload(workload, "127.0.0.1", server)
    assert outcome.passed, outcome.summary()
    assert not any(check.name.startswith("keep_alive") for check in outcome.checks)
