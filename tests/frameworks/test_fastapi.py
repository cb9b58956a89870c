"""FastAPI / Starlette / sse-starlette under ``bench serve``."""

from __future__ import annotations

import hashlib
import os
import time
import uuid

import httpx
import pytest

from .conftest import (
    DELAY,
    N_CHUNKS,
    assert_streamed,
    expected_chunks,
    server_fixture,
    timed_request,
)

# Chunks must arrive within PROMPT of being produced: alone on the machine under xdist.
pytestmark = [pytest.mark.timeout(30), pytest.mark.quiet]
server = server_fixture("fastapi_app:app", warmup="/")


def test_plain(server, client):
    response = client.get(server.url + "/")
    assert response.status_code == 200
    assert response.text == "fastapi ok"
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["content-length"] == "10"


def test_streaming_response_chunks_arrive_as_produced(server, client):
    timed = timed_request(client, "GET", f"{server.url}/stream?n={N_CHUNKS}&delay={DELAY}")
    assert timed.response.status_code == 200
    assert timed.response.headers["content-type"] == "application/octet-stream"
    assert timed.response.headers.get("transfer-encoding") == "chunked"
    chunks = expected_chunks()
    assert timed.body == b"".join(chunks)
    assert_streamed(timed, chunks)


def test_sse_events_arrive_one_by_one(server, client):
    timed = timed_request(client, "GET", f"{server.url}/sse?n={N_CHUNKS}&delay={DELAY}")
    assert timed.response.status_code == 200
    assert timed.response.headers["content-type"].startswith("text/event-stream")
    assert timed.response.headers["cache-control"] == "no-store"
    text = timed.body.decode()
    events = [e for e in text.replace("\r\n", "\n").split("\n\n") if e.strip()]
    assert events == [f"id: {i}\nevent: tick\ndata: event-{i:02d}" for i in range(N_CHUNKS)], text
    # An event counts as arrived once its terminating blank line has.
    assert_streamed(timed, [f"data: event-{i:02d}\r\n\r\n".encode() for i in range(N_CHUNKS)])


def test_background_task_runs_after_the_response(server, client):
    token = uuid.uuid4().hex
    start = time.time()
    response = client.post(f"{server.url}/background/{token}?seconds=1.0")
    answered = time.time() - start
    assert response.status_code == 200
    assert response.text == f"queued {token}"
    assert answered < 0.5, f"response waited for the background task ({answered:.2f} s)"
    # Poll on fresh connections (the POST's connection may legitimately wait for the task):
    # the task is not done yet, then it is, ~1 s after the request.
    status_url = f"{server.url}/background/{token}"
    assert httpx.get(status_url, timeout=5).json()["done_at"] is None
    deadline = time.monotonic() + 5
    done_at = None
    while done_at is None and time.monotonic() < deadline:
        done_at = httpx.get(status_url, timeout=5).json()["done_at"]
        time.sleep(0.05)
    assert done_at is not None, "background task never ran"
    assert 0.9 <= done_at - start < 3, f"background task finished {done_at - start:.2f} s in"


@pytest.fixture(scope="module")
def big_file(server) -> bytes:
    data = os.urandom(5 * 1024 * 1024 + 123)
    (server.state_dir / "big.bin").write_bytes(data)
    return data


def test_file_response(server, client, big_file):
    response = client.get(f"{server.url}/file/big.bin")
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(big_file))
    assert response.headers["content-type"] == "application/octet-stream"
    assert "transfer-encoding" not in response.headers
    assert len(response.content) == len(big_file)
    assert response.content == big_file


def test_file_response_range_and_head(server, client, big_file):
    response = client.get(f"{server.url}/file/big.bin", headers={"Range": "bytes=1000-1999"})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 1000-1999/{len(big_file)}"
    assert response.headers["content-length"] == "1000"
    assert response.content == big_file[1000:2000]
    head = client.head(f"{server.url}/file/big.bin")
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(big_file))
    assert head.content == b""


def test_multipart_upload(server, client):
    data = os.urandom(3 * 1024 * 1024 + 7)
    files = {"file": ("blob.bin", data, "application/octet-stream")}
    response = client.post(f"{server.url}/upload", files=files)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "filename": "blob.bin",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_raw_body_upload(server, client, framing):
    data = os.urandom(4 * 1024 * 1024 + 3)
    if framing == "chunked":
        content = (data[i : i + 100_000] for i in range(0, len(data), 100_000))
    else:
        content = data
    response = client.post(f"{server.url}/raw", content=content)
    assert response.status_code == 200, response.text
    assert response.json() == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_json_path_parameter(server, client):
    response = client.get(f"{server.url}/items/42", params={"q": "a b/ü"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"item_id": 42, "q": "a b/ü"}
    bad = client.get(f"{server.url}/items/forty-two")
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["path", "item_id"]


def test_json_body_and_validation(server, client):
    item = {"name": "widget", "price": 10.0, "tags": ["x", "y"]}
    response = client.post(f"{server.url}/items", json=item)
    assert response.status_code == 201, response.text
    assert response.json() == {"created": item, "total": 12.0}
    bad = client.post(f"{server.url}/items", json={"name": "widget", "price": "free"})
    assert bad.status_code == 422
    assert [e["loc"] for e in bad.json()["detail"]] == [["body", "price"]]
    broken = client.post(
        f"{server.url}/items", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422
