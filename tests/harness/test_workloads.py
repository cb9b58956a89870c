"""Workloads from ``--endpoint`` and scenario files; every mistake is ``FILE:LINE: ...``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asgibench.harness import workloads
from asgibench.harness.workloads import Request, ScenarioError

SCENARIO = """\
# the example from docs/your-app.md
[[workload]]
name = "items"
concurrency = [16, 64, 256]
pipeline = 1
connection = "keep-alive"

[[workload.request]]
method = "GET"
path = "/items/1"
headers = { Accept = "application/json" }
expect_status = 200
expect_json_keys = ["id", "name"]
weight = 3

[[workload.request]]
method = "POST"
path = "/items"
body_file = "payload.json"
expect_status = 201
expect_body_contains = "created"

[[workload]]
name = "login"
connection = "close"

[[workload.request]]
path = "/login"
"""


def write(tmp_path: Path, text: str, payload: bytes = b'{"name": "x"}') -> Path:
    (tmp_path / "payload.json").write_bytes(payload)
    path = tmp_path / "scenario.toml"
    path.write_text(text)
    return path


def test_scenario_is_read_into_workloads(tmp_path: Path) -> None:
    items, login = workloads.load_scenario(write(tmp_path, SCENARIO))
    assert items.name == "items" and items.concurrency == (16, 64, 256)
    assert items.connection == "keep-alive" and items.pipeline == 1
    get, post = items.requests
    assert get == Request("GET", "/items/1", (("Accept", "application/json"),),
                          expect_status=200, expect_json_keys=("id", "name"), weight=3)
    assert post.body == b'{"name": "x"}' and post.expect_status == 201
    assert ("Content-Type", "application/json") in post.headers
    assert login.connection == "close" and login.concurrency == ()
    assert login.requests == (Request("GET", "/login"),)
    stored = json.loads(json.dumps(items.to_dict()))
    assert stored["requests"][1]["body_bytes"] == len(post.body)


def test_endpoint_flag(tmp_path: Path) -> None:
    workload = workloads.from_endpoint("get /items/{id}")
    assert workload.name == "get-items-id"
    assert workload.requests == (Request("GET", "/items/{id}"),)
    (tmp_path / "body.json").write_text('{"a": 1}')
    post = workloads.from_endpoint("POST /items @body.json", tmp_path).requests[0]
    assert post.method == "POST" and post.body == b'{"a": 1}'
    assert post.headers == (("Content-Type", "application/json"),)


@pytest.mark.parametrize(("spec", "needle"), [
    ("GET", "expected 'METHOD /path'"),
    ("FETCH /x", "method 'FETCH' is not one of"),
    ("GET items", "must start with /"),
    ("POST /x body.json", "a body is given as @FILE"),
    ("POST /x @missing.json", "cannot read body file"),
])
def test_endpoint_mistakes(spec: str, needle: str, tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=needle) as info:
        workloads.from_endpoint(spec, tmp_path)
    assert str(info.value).startswith(f"--endpoint {spec!r}: ")


@pytest.mark.parametrize(("old", "new", "line", "needle"), [
    # TOML syntax: TOML's own line
    ('pipeline = 1\n', 'pipeline = = 1\n', 5, "Invalid value"),
    # each key's own line
    ('pipeline = 1\n', 'pipeline = 0\n', 5, "pipeline must be a whole number from 1"),
    ('concurrency = [16, 64, 256]\n', 'concurrency = [16, "x"]\n', 4, "concurrency must"),
    ('connection = "keep-alive"\n', 'connection = "sometimes"\n', 6, "connection must be"),
    ('expect_status = 201\n', 'expect_status = 999\n', 20, "expect_status must be"),
    ('weight = 3\n', 'weight = 0\n', 14, "weight must be"),
    ('method = "POST"\n', 'method = "FETCH"\n', 17, "method 'FETCH'"),
    ('body_file = "payload.json"\n', 'body_file = "nope.json"\n', 19, "cannot read body"),
    ('headers = { Accept = "application/json" }\n',
     'headers = { Host = "x" }\n', 11, "set by the load driver"),
    ('expect_json_keys = ["id", "name"]\n', 'expect_json_key = ["id"]\n', 13,
     "unknown key 'expect_json_key'"),
    ('name = "login"\n', 'name = "Log In"\n', 24, "a workload needs name"),
    ('name = "login"\n', 'name = "items"\n', 24, "'items' is used twice"),
    ('connection = "close"\n', 'connection = "close"\npipeline = 4\n', 26,
     "cannot be pipelined"),
])
def test_scenario_mistakes_name_file_and_line(tmp_path: Path, old: str, new: str,
                                              line: int, needle: str) -> None:
    text = SCENARIO.replace(old, new, 1)
    assert text != SCENARIO
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError, match=needle) as info:
        workloads.load_scenario(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert "\n" not in message


def test_a_scenario_without_workloads(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"scenario\.toml:1: no \[\[workload\]\]"):
        workloads.load_scenario(write(tmp_path, "# nothing\n"))
    with pytest.raises(ScenarioError, match="no such scenario file"):
        workloads.load_scenario(tmp_path / "absent.toml")
    with pytest.raises(ScenarioError, match=r":3: workload 'x' has no \[\[workload.request"):
        workloads.load_scenario(write(tmp_path, "\n\n[[workload]]\nname = \"x\"\n"))


@pytest.mark.parametrize(("status", "body", "problem"), [
    (200, b'{"id": 1, "name": "a"}', None),
    (404, b"{}", "status 404, expected 2xx"),
    (200, b"[1]", "JSON body is a list"),
    (200, b"oops", "body is not JSON"),
    (200, b'{"id": 1}', "lacks 'name'"),
])
def test_request_check(status: int, body: bytes, problem: str | None) -> None:
    request = Request("GET", "/items/1", expect_json_keys=("id", "name"))
    found = request.check(status, body)
    assert (found is None) if problem is None else (problem in (found or ""))
    contains = Request("GET", "/", expect_body_contains="hello")
    assert contains.check(200, b"say hello") is None
    assert "does not contain 'hello'" in (contains.check(200, b"bye") or "")
