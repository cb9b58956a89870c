"""``bench cost``: CPU instructions per request, counted by callgrind -- a noise-free
measure of how much work a server does per request.

Requests per second on a shared machine move by 25% between identical runs; the number
of instructions a process executes for the same requests barely moves at all. So each
server runs under ``valgrind --tool=callgrind`` while one keep-alive client sends it
requests, and the counters are dumped (``callgrind_control --dump``) after a warm-up and
again after the measured requests: the second dump holds exactly the measured part.

The canned-response server (:mod:`asgibench.harness.canned`: no parser, no ASGI) is
measured the same way on every loop: its cost is the floor, Python's and the loop's own
work per request. ``floor / server`` is then the share of the floor's speed a server can
reach when the CPU is the limit.

Only servers that serve from the process they were started as can be counted (callgrind
follows one process): asgibench and uvicorn; hypercorn and granian fork workers.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

from asgibench.errors import BenchError
from asgibench.harness.httpclient import Client, VerifyError
from asgibench.harness.process import ServerProcess, StartFailed
from asgibench.harness.servers import Launch, Unsupported
from asgibench.harness.testtypes import TestType

#: Servers whose requests are served by the launched process itself.
COUNTABLE_SERVERS = ("asgibench", "uvicorn")
FLOOR = "canned"
_STARTUP_TIMEOUT = 180.0  # interpreter start-up under valgrind takes ~10 s here
_DUMP_TIMEOUT = 60.0


@dataclass(frozen=True)
class Cost:
    server: str
    loop: str
    parser: str
    test: str
    pipeline: int
    requests: int
    instructions: int | None  # over the measured requests; None when it failed
    reason: str = ""

    @property
    def per_request(self) -> float | None:
        return None if self.instructions is None else self.instructions / self.requests

    def to_json(self) -> dict[str, Any]:
        return {
            "server": self.server, "loop": self.loop, "parser": self.parser,
            "test": self.test, "pipeline": self.pipeline, "requests": self.requests,
            "instructions": self.instructions, "per_request": self.per_request,
            "reason": self.reason,
        }


def check_tools() -> None:
    """BenchError unless valgrind and callgrind_control are installed."""
    missing = [tool for tool in ("valgrind", "callgrind_control") if not shutil.which(tool)]
    if missing:
        raise BenchError(f"bench cost needs {' and '.join(missing)}: install valgrind "
                         "(apt-get install valgrind, brew install valgrind)")


def countable(plan: list[Launch | Unsupported]) -> list[Launch | Unsupported]:
    """The plan with servers callgrind cannot follow turned into Unsupported."""
    out: list[Launch | Unsupported] = []
    for item in plan:
        if isinstance(item, Launch) and item.server not in COUNTABLE_SERVERS:
            item = Unsupported(item.server, item.loop, item.parser,
                               f"{item.server} serves from worker processes; "
                               "callgrind counts one process")
        out.append(item)
    return out


def floor_launch(loop: str, host: str, port: int) -> Launch:
    argv = [sys.executable, "-m", "asgibench.harness.canned", "--host", host,
            "--port", str(port), "--loop", loop]
    return Launch(FLOOR, loop, "-", argv)


def measure(launch: Launch, tests: list[TestType], host: str, port: int, requests: int,
            warmup: int, pipeline: int) -> list[Cost]:
    """Count the instructions ``launch`` spends on ``requests`` requests of each test type,
    in one server process (interpreter start-up under valgrind is most of the time).

    The server starts with callgrind's instrumentation off (``--instr-atstart=no``), which
    runs the interpreter's start-up and the readiness check ~3x faster; it is switched on
    for the first warm-up. Each test type gets its own warm-up, then a dump that ends it,
    then its measured requests and a dump holding exactly them; a dump resets the
    counters, so one test type's work never reaches another's count.
    """
    with tempfile.TemporaryDirectory(prefix="asgibench-cost-") as folder:
        out_file = os.path.join(folder, "callgrind.out")
        argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                f"--callgrind-out-file={out_file}", *launch.argv]
        # A fixed hash seed keeps dict layouts, and so instruction counts, repeatable.
        server = ServerProcess(argv, None, env={**os.environ, "PYTHONHASHSEED": "0"})

        def cost(test: TestType, instructions: int | None, reason: str = "") -> Cost:
            return Cost(launch.server, launch.loop, launch.parser, test.name, pipeline,
                        requests, instructions, reason)

        failure = ""
        try:
            server.start()
            server.wait_ready(host, port, tests[0], _STARTUP_TIMEOUT)
            _callgrind(server, "--instr=on")
            with Client(host, port, timeout=_DUMP_TIMEOUT) as client:
                for test in tests:
                    _send(client, test, warmup, pipeline)
                    _callgrind(server, f"--dump=warm-up {test.name}")
                    _send(client, test, requests, pipeline)
                    _callgrind(server, f"--dump=measured {test.name}")
            # Shutting down uninstrumented is faster too.
            _callgrind(server, "--instr=off")
        except (StartFailed, VerifyError, BenchError) as exc:
            failure = getattr(exc, "reason", None) or str(exc)
        finally:
            server.stop(30.0)
            server.close()
        counts = _read_dumps(folder)
        out = []
        for test in tests:
            instructions = counts.get(f"measured {test.name}")
            if instructions is not None:
                out.append(cost(test, instructions))
            else:
                out.append(cost(test, None, failure or "callgrind wrote no dump of the "
                                                       "measured requests"))
        return out


def _send(client: Client, test: TestType, count: int, pipeline: int) -> None:
    """``count`` requests in pipelined batches of ``pipeline``, every answer checked."""
    left = count
    while left > 0:
        batch = min(pipeline, left)
        for response in client.get(test.path, test.accept, batch):
            if response.status != 200 or not test.body_ok(response.body):
                raise BenchError(f"wrong answer to {test.path}: status {response.status}, "
                                 f"body {response.body[:60]!r}")
        left -= batch


def _callgrind(server: ServerProcess, command: str) -> None:
    """``callgrind_control COMMAND PID``: dump the counters, switch instrumentation."""
    assert server.proc is not None
    try:
        done = subprocess.run(["callgrind_control", command, str(server.proc.pid)],
                              capture_output=True, text=True, timeout=_DUMP_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise BenchError("callgrind_control did not answer") from None
    if done.returncode != 0:
        raise BenchError(f"callgrind_control failed: {(done.stderr or done.stdout).strip()}")


def _read_dumps(folder: str) -> dict[str, int]:
    """The instruction total of each dump, by the label it was triggered with."""
    totals: dict[str, int] = {}
    for name in sorted(os.listdir(folder)):
        total: int | None = None
        trigger = ""
        with contextlib.suppress(OSError), open(os.path.join(folder, name),
                                                encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("desc: Trigger:"):
                    trigger = line.split(":", 2)[2].strip()
                elif line.startswith(("summary:", "totals:")) and total is None:
                    total = int(line.split()[1])
        if trigger.startswith("dump ") and total is not None:
            totals[trigger[len("dump "):]] = total
    return totals
