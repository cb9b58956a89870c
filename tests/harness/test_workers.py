"""``bench run --workers``: each server's launch with N worker processes, a server that
cannot (unsupported, with the reason), ``--workers`` parsing, the results model and the
ranking telling worker counts apart -- and, through real sockets, that every worker of
every server serves and none outlives the run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from asgibench.errors import BenchError
from asgibench.harness import pinning, plan, ranking, results, servers
from asgibench.harness.process import ServerProcess, StartFailed, server_env
from asgibench.reports import compare, merge

from .conftest import free_port

APPS = str(Path(__file__).resolve().parent / "apps")
CONNECTIONS = 16


def _plan(name: str, workers: tuple[int, ...]) -> list[servers.Launch | servers.Unsupported]:
    kind = servers.SERVERS.plugin(name)
    loop = "asyncio"
    parser = kind.fixed_parser() or "h11"
    return kind.plan([loop], [parser], "127.0.0.1", 9, "pids:app", workers=workers)


@pytest.mark.parametrize("name, flag", [("asgibench", "--workers"), ("uvicorn", "--workers"),
                                        ("hypercorn", "--workers"), ("granian", "--workers")])
def test_every_server_gets_its_workers_flag(name: str, flag: str) -> None:
    one, two = _plan(name, (1, 2))
    assert isinstance(one, servers.Launch) and isinstance(two, servers.Launch)
    assert (one.workers, two.workers) == (1, 2)
    assert two.argv[two.argv.index(flag) + 1] == "2"
    assert flag not in one.argv or one.argv[one.argv.index(flag) + 1] == "1"
    assert one.key == (name, one.loop, one.parser)
    assert two.key == (f"{name} x2", two.loop, two.parser) and two.label.startswith(f"{name} x2 ")


def test_a_server_without_workers_is_unsupported_with_the_reason() -> None:
    class OneWorker(servers.ServerKind):  # a plug-in that never learned --workers
        def loop_arg(self, loop: str) -> str | None:
            return loop

        def parser_arg(self, parser: str) -> str | None:
            return parser

        def argv(self, loop_arg: str, parser_arg: str, host: str, port: int, app: str
                 ) -> list[str]:
            return ["serve", app]

    kind = OneWorker("solo", "solo", "solo", "pip install solo")
    one, two = kind.plan(["asyncio"], ["h11"], "127.0.0.1", 9, workers=(1, 2))
    assert isinstance(one, servers.Launch)
    assert isinstance(two, servers.Unsupported) and two.workers == 2
    assert two.reason == "solo cannot run 2 worker processes here (its launcher has no " \
                         "workers option)"
    assert two.key == ("solo x2", "asyncio", "h11")


def test_workers_option() -> None:
    pins = pinning.PinPlan([0, 1, 2], [3], "sched_setaffinity", usable=[0, 1, 2, 3])
    assert plan.resolve_workers("1", pins) == ([1], [])
    assert plan.resolve_workers("1, 2,1", pins) == ([1, 2], [])
    assert plan.resolve_workers("auto,1", pins) == ([3, 1], [])
    counts, notes = plan.resolve_workers("4", pins)
    assert counts == [4] and notes == ["--workers 4: more worker processes than the 3 CPU(s) "
                                       "of the server's CPU set (0,1,2); they share cores"]
    unpinned = pinning.PinPlan(None, None, "none", usable=[0, 1])
    assert plan.resolve_workers("auto", unpinned) == ([2], [])
    one_cpu = pinning.PinPlan([0], [1], "sched_setaffinity", usable=[0, 1])
    assert plan.resolve_workers("auto", one_cpu) == (
        [1], ["--workers auto: 1 worker, as the server has one CPU"])
    for bad, needle in (("", "empty"), ("two", "'two' is neither"), ("0", "1 to 256"),
                        ("1,-1", "1 to 256"), ("257", "1 to 256")):
        with pytest.raises(BenchError, match=needle):
            plan.resolve_workers(bad, pins)


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "asgibench", "run", *args],
                          capture_output=True, text=True, timeout=60)


def test_bad_workers_is_one_line_before_any_work(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    proc = _bench("--workers", "lots", "--out", str(out))
    assert proc.returncode == 2 and not out.exists()
    assert proc.stderr.strip().splitlines() == [
        "python -m asgibench run: error: --workers 'lots': 'lots' is neither a whole number "
        "nor auto (e.g. --workers 1,2)"]
    proc = _bench("--workers", "", "--out", str(out))  # not one worker, silently
    assert proc.returncode == 2 and not out.exists()
    assert proc.stderr.strip().splitlines() == [
        "python -m asgibench run: error: --workers is empty; give worker counts (1,2) or auto"]
    proc = _bench("--url", "http://127.0.0.1:9", "--workers", "2")
    assert proc.returncode == 2
    assert "--url cannot be combined with --workers" in proc.stderr


def _entry(workers: int | None, rps: float) -> results.Entry:
    level = results.Level(16, repeats=[results.Repeat.from_dict({
        "requests": int(rps), "duration_s": 1.0, "requests_per_s": rps,
        "latency_ms": {"p50": 1.0, "p75": 1.0, "p90": 1.0, "p99": 1.0, "max": 1.0},
        "errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0}, "round": 1})])
    return results.Entry("uvicorn", "uvloop", "httptools", "json", levels=[level],
                         workers=workers)


def test_results_and_ranking_tell_worker_counts_apart() -> None:
    old = _entry(None, 100.0).to_dict()
    assert "workers" not in old  # files written before --workers read back unchanged
    assert results.Entry.from_dict(old).to_dict() == old
    two = _entry(2, 150.0)
    raw = two.to_dict()
    assert list(raw)[:3] == ["server", "workers", "loop"] and raw["workers"] == 2
    assert results.Entry.from_dict(raw) == two
    assert (two.name, two.key) == ("uvicorn x2", ("uvicorn x2", "uvloop", "httptools", "json"))
    assert _entry(1, 1.0).key == _entry(None, 1.0).key  # one worker: nothing new
    rows = ranking.rank([("", _entry(1, 100.0)), ("", two)], "json")
    assert [(r.server, r.workers) for r in rows] == [("uvicorn x2", 2), ("uvicorn", None)]
    assert "workers" not in rows[1].stored() and rows[0].stored()["workers"] == 2
    composite = ranking.composite({"json": rows, "plaintext": [
        ranking.RankRow(1, "", r.server, r.loop, r.parser, "plaintext", 10.0, 10.0, 10.0,
                        1, 16, 1, 100.0, None, None, 0, False) for r in rows]})
    assert sorted(row.server for row in composite) == ["uvicorn", "uvicorn x2"]


def _pids(port: int) -> set[int]:
    """The pids answering CONNECTIONS fresh connections, each opened while the worker
    that took the one before is still blocked in the app."""
    socks = []
    try:
        for _ in range(CONNECTIONS):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(b"GET /pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            socks.append(sock)
            time.sleep(0.02)
        out: set[int] = set()
        for sock in socks:
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
            out.add(int(data.rsplit(b"\r\n\r\n", 1)[1]))
        return out
    finally:
        for sock in socks:
            sock.close()


def _gone(pids: list[int], timeout: float = 10.0) -> list[int]:
    """Those of ``pids`` still running (not zombies) after up to ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for pid in pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def _group(pgid: int) -> list[str]:
    """The processes still in process group ``pgid``, for a failure's message."""
    out = []
    for proc in psutil.process_iter(["pid", "status", "cmdline"]):
        try:
            if os.getpgid(proc.pid) == pgid:
                out.append(f"{proc.pid} {proc.info['status']} {proc.info['cmdline']}")
        except (ProcessLookupError, psutil.Error):
            pass
    return out


def _group_gone(pgid: int, timeout: float = 10.0) -> bool:
    """True once no process (zombies included: they wait for init to reap them) is left
    in process group ``pgid``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.skipif(not pinning.supported(), reason="needs CPU pinning (Linux)")
@pytest.mark.parametrize("name", ["asgibench", "uvicorn", "hypercorn", "granian"])
def test_two_workers_serve_and_stop(name: str) -> None:
    kind = servers.SERVERS.plugin(name)
    if not kind.installed():
        pytest.skip(f"{name} is not installed ({kind.install_hint})")
    port = free_port()
    launch = kind.plan(["asyncio"], [kind.fixed_parser() or "h11"], "127.0.0.1", port,
                       "pids:app", workers=(2,))[0]
    assert isinstance(launch, servers.Launch)
    cpus = pinning.usable_cpus()[:1]
    server = ServerProcess(launch.argv, cpus, server_env(APPS))
    server.start_on("127.0.0.1", port)
    try:
        server.wait_workers(port, 2, 30.0)
        assert server.proc is not None
        top = psutil.Process(server.proc.pid)
        tree = [top.pid, *(child.pid for child in top.children(recursive=True))]
        served = _pids(port)
        # Two distinct workers answered, both below the process started and pinned with it.
        assert len(served) == 2 and served <= set(tree) - {top.pid}, (served, tree)
        assert all(psutil.Process(pid).cpu_affinity() == cpus for pid in served)
    finally:
        server.stop(10.0)
        server.close()
    assert _gone(tree) == []
    assert _group_gone(top.pid), _group(top.pid)  # no orphan worker left in its group


@pytest.mark.parametrize("name", ["asgibench", "uvicorn"])
def test_workers_ready_only_after_their_start_up(name: str, tmp_path: Path) -> None:
    """A worker listens before its lifespan start-up has run: the wait goes on until the
    slow one's start-up work is over, not only until both listen."""
    kind = servers.SERVERS.plugin(name)
    if not kind.installed():
        pytest.skip(f"{name} is not installed ({kind.install_hint})")
    port = free_port()
    launch = kind.plan(["asyncio"], ["h11"], "127.0.0.1", port, "slowstart:app",
                       workers=(2,))[0]
    assert isinstance(launch, servers.Launch)
    env = server_env(APPS, base=dict(os.environ, SLOWSTART_DIR=str(tmp_path)))
    server = ServerProcess(launch.argv, None, env)
    server.start_on("127.0.0.1", port)
    try:
        server.wait_workers(port, 2, 30.0)
        assert len(list(tmp_path.glob("ready-*"))) == 2, server.output()
    finally:
        server.stop(10.0)
        server.close()


def test_too_few_workers_fail_the_start() -> None:
    """One process where two were asked for: a start failure with the count, not a run
    measuring fewer workers than it records."""
    port = free_port()
    launch = servers.SERVERS.plugin("asgibench").plan(
        ["asyncio"], ["h11"], "127.0.0.1", port, "pids:app")[0]
    assert isinstance(launch, servers.Launch)
    server = ServerProcess(launch.argv, None, server_env(APPS))
    server.start_on("127.0.0.1", port)
    try:
        with pytest.raises(StartFailed, match=f"only 0 of 2 worker processes listen on port "
                                              f"{port} within the start-up timeout"):
            server.wait_workers(port, 2, 1.0)
    finally:
        server.stop(10.0)
        server.close()


def test_a_run_fails_a_server_with_fewer_workers_than_asked(tmp_path: Path) -> None:
    """The run waits for the workers, not only for a first answer: a plug-in whose
    ``with_workers`` ignores the count fails at start with the count, and is not
    measured as two workers."""
    out = tmp_path / "r.json"
    plugins = str(Path(__file__).resolve().parent / "plugins")
    env = dict(os.environ, ASGIBENCH_PLUGINS="fakeserver,oneworker",
               PYTHONPATH=os.pathsep.join(filter(None, [plugins,
                                                         os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-m", "asgibench", "run", "--server", "oneworker",
                           "--loop", "asyncio", "--proto", "h11", "--test", "json",
                           "--workers", "2", "--levels", "8", "--duration", "0.3",
                           "--warmup", "0", "--repeat", "1", "--no-ceiling",
                           "--startup-timeout", "2", "--out", str(out)],
                          capture_output=True, text=True, timeout=60, env=env, check=False)
    assert out.exists(), proc.stderr
    [entry] = json.loads(out.read_text())["entries"]
    assert (entry["server"], entry["workers"], entry["status"], entry["phase"]) == (
        "oneworker", 2, "failed", "start"), entry
    assert "only 0 of 2 worker processes listen on port" in entry["reason"], entry["reason"]


def test_workers_recorded_by_a_run(tmp_path: Path) -> None:
    """A short run with 1 and 2 workers: two entries per combination, ranked apart."""
    out = tmp_path / "r.json"
    proc = _bench("--server", "asgibench", "--loop", "asyncio", "--proto", "h11",
                  "--test", "json", "--workers", "1,2", "--levels", "8", "--duration", "0.3",
                  "--warmup", "0", "--repeat", "1", "--no-ceiling", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    document = json.loads(out.read_text())
    assert [(e["server"], e["workers"], e["status"]) for e in document["entries"]] == [
        ("asgibench", 1, "ok"), ("asgibench", 2, "ok")]
    assert document["settings"]["workers"] == [1, 2]
    assert "--workers" in document["entries"][1]["command"]
    assert sorted(row["server"] for row in document["ranking"]["json"]) == [
        "asgibench", "asgibench x2"]
    assert "asgibench x2" in proc.stdout
    run = results.load(out)
    assert results.Run.from_dict(run.to_dict()).to_dict() == document
    # compare and merge match entries by worker count too; nothing pairs x1 with x2.
    matches = compare.compare(run, results.load(out)).matches
    assert sorted(m.key[0] for m in matches) == ["asgibench", "asgibench x2"]
    merged = merge.combine([run, results.load(out)])
    one_worker = results.load(out)  # as a run without --workers records its settings
    del one_worker.settings.extra["workers"]
    assert merge.combine([one_worker, run]).settings.extra["workers"] == [1, 2]
    assert [(e.name, len(e.levels[0].repeats)) for e in merged.entries] == [
        ("asgibench", 2), ("asgibench x2", 2)]
