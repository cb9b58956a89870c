"""FastAPI WebSocket routes under ``bench serve --ws ...``: an echo, a chat room, a denial."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from asgibench.protocols.ws import WEBSOCKETS

from .conftest import APPS_DIR, HOST, SERVER, ServerProcess, free_port

pytestmark = [pytest.mark.timeout(30),
              pytest.mark.skipif(SERVER != "bench", reason="bench serve's --ws only")]


def _cells() -> list:
    params = []
    for loop, proto, ws in [("uvloop", "httptools", "websockets"), ("asyncio", "h11", "wsproto")]:
        ok, why = WEBSOCKETS.plugin(ws).available()
        params.append(pytest.param((loop, proto, ws), id=f"{loop}-{proto}-{ws}",
                                   marks=[] if ok else [pytest.mark.skip(reason=why)]))
    return params


class WsServer(ServerProcess):
    def __init__(self, cell: tuple[str, str, str], state_dir) -> None:
        loop, proto, ws = cell
        self.port = free_port()
        self.state_dir = state_dir
        self.log_path = state_dir / "server.log"
        cmd = [sys.executable, "-m", "asgibench", "serve", "fastapi_ws_app:app", "--host", HOST,
               "--port", str(self.port), "--loop", loop, "--proto", proto, "--ws", ws,
               "--log-level", "warning"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASGIBENCH_")}
        env.update(PYTHONUNBUFFERED="1")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=APPS_DIR, env=env, stdout=log,
                                         stderr=subprocess.STDOUT)


@pytest.fixture(scope="module", params=_cells())
def server(request, tmp_path_factory) -> Iterator[WsServer]:
    srv = WsServer(request.param, tmp_path_factory.mktemp("fastapi_ws"))
    try:
        srv.wait_ready("/")
        yield srv
    finally:
        stopped = srv.stop()
    assert stopped, f"server still running 5 s after SIGTERM:\n{srv.log()}"
    assert "Traceback" not in srv.log(), srv.log()


def ws_url(server: WsServer, path: str) -> str:
    return f"ws://{HOST}:{server.port}{path}"


def test_echo(server):
    with connect(ws_url(server, "/echo"), subprotocols=["v1"]) as ws:
        assert ws.subprotocol == "v1"
        ws.send("hello")
        assert ws.recv() == "hello"
        ws.send(b"\x00" * 100_000)
        assert ws.recv() == b"\x00" * 100_000


def test_chat_broadcasts_to_everyone(server):
    with connect(ws_url(server, "/chat/ann")) as ann, connect(ws_url(server, "/chat/bob")) as bob:
        ann.send("hi bob")
        expected = {"from": "ann", "text": "hi bob"}
        assert json.loads(ann.recv()) == expected
        assert json.loads(bob.recv()) == expected
        bob.send("hi ann")
        assert json.loads(ann.recv()) == {"from": "bob", "text": "hi ann"}


def test_denial_and_close_code(server):
    with pytest.raises(InvalidStatus) as info:
        connect(ws_url(server, "/private"))
    assert info.value.response.status_code == 401
    assert info.value.response.body == b"go away"
    with connect(ws_url(server, "/private?token=secret")) as ws:
        assert ws.recv() == "welcome"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv()
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4000, "that is all")
