"""From options to what runs (asgibench.harness.plan): levels, their cap, loop and parser
names, pipelining depths."""

from __future__ import annotations

import pytest

from asgibench import loops, protocols
from asgibench.errors import BenchError
from asgibench.harness import plan, testtypes


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


def test_launches_serve_the_given_app_on_the_given_port_for_every_server() -> None:
    """bench cost and bench memory launch on one port: each server's own flag carries it
    (hypercorn's is --bind HOST:PORT, which a --port search once missed)."""
    from asgibench.harness.servers import Launch

    found = [item for item in plan.launches("all", "asyncio", "h11,rust", "127.0.0.1",
                                            8123, "main:app")
             if isinstance(item, Launch)]
    assert found
    for launch in found:
        line = " ".join(launch.argv)
        assert "8123" in line and "main:app" in line, line
