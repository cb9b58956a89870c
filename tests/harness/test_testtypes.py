"""Test types (asgibench.harness.testtypes): the registry, exact bodies, content types."""

from __future__ import annotations

import pytest

from asgibench.errors import BenchError
from asgibench.harness import testtypes


def test_registry() -> None:
    assert testtypes.names()[:2] == ["plaintext", "json"]
    assert [t.name for t in testtypes.resolve("json,plaintext,json")] == ["json", "plaintext"]
    assert [t.name for t in testtypes.resolve("all")] == testtypes.names()
    with pytest.raises(BenchError, match="unknown test type 'nosuch'"):
        testtypes.resolve("nosuch")
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
