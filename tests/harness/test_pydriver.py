"""The lean Python driver: framing, body checks, errors, histograms."""

from __future__ import annotations

from typing import Any

import pytest

from asgibench.errors import BenchError
from asgibench.harness.drivers import LoadSpec, get_driver
from asgibench.harness.drivers.pydriver import PythonDriver
from asgibench.harness.drivers.pyworker import _parse_unsized


def spec(port: int, path: str = "/plaintext", test: str | None = "plaintext",
         **kw: Any) -> LoadSpec:
    base: dict[str, Any] = {"connections": 4, "duration": 0.5, "pipeline": 1, "slots": 1}
    base.update(kw)
    return LoadSpec("127.0.0.1", port, path, test=test, **base)


def test_measures_the_canned_server(canned_port: int) -> None:
    result = PythonDriver().run(spec(canned_port, pipeline=4, slots=2, connections=5))
    assert result.requests > 0
    assert result.checked == result.requests
    assert result.bad_body == 0 and result.non_2xx == 0
    assert result.errors == {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    lat = result.latency_ms
    assert 0 < lat["p50"] <= lat["p75"] <= lat["p90"] <= lat["p99"] <= lat["max"] + 1e-9
    assert result.requests_per_s == pytest.approx(result.requests / result.duration_s)


def test_counts_wrong_bodies_and_non_2xx(canned_port: int) -> None:
    wrong = PythonDriver().run(spec(canned_port, path="/plaintext", test="json"))
    assert wrong.requests > 0 and wrong.bad_body == wrong.requests
    assert wrong.requests_per_s == 0
    missing = PythonDriver().run(spec(canned_port, path="/nope", test=None))
    assert missing.requests > 0 and missing.non_2xx == missing.requests


def test_connect_errors(unused_port: int) -> None:
    result = PythonDriver().run(spec(unused_port, duration=0.3))
    assert result.requests == 0
    assert result.errors["connect"] > 0


def test_closed_connections_are_read_errors(bad_server: Any) -> None:
    port = bad_server("close")
    result = PythonDriver().run(spec(port, duration=0.5))
    assert result.requests > 0
    assert result.errors["read"] > 0


def test_chunked_framing() -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    body = b"5\r\nHello\r\n8\r\n, World!\r\n0\r\n\r\n"
    data = head + body + b"NEXT"
    head_end = data.find(b"\r\n\r\n")
    parsed = _parse_unsized(data, 0, head_end, len(data))
    assert parsed == (b"Hello, World!", len(head + body))
    trailers = head + b"5\r\nHello\r\n0\r\nX-T: 1\r\n\r\n"
    assert _parse_unsized(trailers, 0, head_end, len(trailers)) == (b"Hello", len(trailers))
    partial = head + b"5\r\nHel"
    assert _parse_unsized(partial, 0, head_end, len(partial)) is None
    no_length = b"HTTP/1.1 204 No Content\r\n\r\n"
    assert _parse_unsized(no_length, 0, no_length.find(b"\r\n\r\n"), len(no_length)) == \
        (b"", len(no_length))


def test_driver_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    assert get_driver("python").name == "python"
    with pytest.raises(BenchError, match="unknown driver"):
        get_driver("ab")
    monkeypatch.setenv("PATH", "/nonexistent")
    assert get_driver("auto").name == "python"
    with pytest.raises(BenchError, match="wrk"):
        get_driver("wrk")
