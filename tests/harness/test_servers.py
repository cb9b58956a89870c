"""Server launch plans (asgibench.harness.servers, peerloops): asgibench, the peers,
what each cannot run and why, and server name resolution."""

from __future__ import annotations

import sys

import pytest

from asgibench import loops, protocols
from asgibench.errors import BenchError
from asgibench.harness import peerloops, servers


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
