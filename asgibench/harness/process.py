"""A server under test in its own process: start it (pinned), wait until it answers HTTP,
keep the tail of its output, stop it (SIGINT, then SIGKILL after a bound)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from typing import Any

from asgibench.harness import pinning
from asgibench.harness.db import ENV as DB_ENV
from asgibench.harness.httpclient import Client, VerifyError
from asgibench.harness.ports import wait_until_free
from asgibench.harness.testtypes import TestType

OUTPUT_TAIL_LINES = 20
#: A worker whose CPU time has not risen for this long has finished starting
#: (:meth:`ServerProcess.wait_workers`); CPU time is counted in 10 ms ticks.
WORKERS_SETTLE_S = 0.3


class StartFailed(Exception):
    """The server did not start, or did not answer in time; ``output`` is its output's tail."""

    def __init__(self, reason: str, output: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.output = output


def server_env(app_dir: str | None = None, db: str | None = None,
               base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a server is started with: ``base`` (default: this process's) with
    ``app_dir`` first on ``PYTHONPATH`` (every server imports MODULE:ATTR through
    ``sys.path``; their own --app-dir flags differ or are missing), and the database of
    the database types as ``ASGIBENCH_DB``, or none: one left over in the shell must not
    make a plaintext server connect to a database."""
    out = dict(os.environ if base is None else base)
    if app_dir:
        out["PYTHONPATH"] = os.pathsep.join(p for p in (app_dir, out.get("PYTHONPATH", ""))
                                            if p)
    if db:
        out[DB_ENV] = db
    else:
        out.pop(DB_ENV, None)
    return out


def _cpu_seconds(psutil: Any, processes: dict[int, Any]) -> dict[int, float]:
    """pid -> user + system CPU seconds so far (a process gone meanwhile is left out)."""
    out: dict[int, float] = {}
    for pid, process in processes.items():
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        out[pid] = times.user + times.system
    return out


class ServerProcess:
    """A server (or the canned server) in its own process group, output to a temp file."""

    def __init__(self, argv: list[str], cpus: list[int] | None,
                 env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self.cpus = cpus
        self.env = env
        self.log = tempfile.TemporaryFile()
        self.proc: subprocess.Popen[bytes] | None = None
        #: The worker processes :meth:`wait_workers` found ready.
        self.worker_pids: set[int] = set()

    def start_on(self, host: str, port: int) -> None:
        """:meth:`start`, once ``host:port`` is free: the server before it on that port
        may still be releasing it. StartFailed if it stays taken."""
        if not wait_until_free(host, port):
            raise StartFailed(f"port {port} on {host} is busy (another process is "
                              "listening)", "")
        self.start()

    def start(self) -> None:
        kwargs: dict[str, Any] = {}
        if os.name == "posix":
            kwargs["start_new_session"] = True
            kwargs["preexec_fn"] = pinning.preexec(self.cpus)
        else:
            kwargs["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
        env = dict(os.environ if self.env is None else self.env)
        env["PYTHONUNBUFFERED"] = "1"
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                         stderr=subprocess.STDOUT, env=env, **kwargs)
        except OSError as exc:
            raise StartFailed(f"cannot start {self.argv[0]}: {exc}", "") from exc

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def output(self, lines: int = OUTPUT_TAIL_LINES) -> str:
        try:
            self.log.flush()
            self.log.seek(0)
            data = self.log.read()
        except (OSError, ValueError):
            return ""
        text = data.decode("utf-8", errors="replace").rstrip()
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, host: str, port: int, test: TestType, timeout: float) -> float:
        """Block until the server answers HTTP; return the seconds it took."""
        started = time.monotonic()
        deadline = started + timeout
        while True:
            if not self.alive():
                raise StartFailed(f"exited with status {self.returncode} during start-up",
                                  self.output())
            try:
                with Client(host, port, timeout=2.0) as client:
                    client.get(test.path, test.accept)
                return time.monotonic() - started
            except VerifyError:
                pass
            if time.monotonic() > deadline:
                raise StartFailed(f"did not answer on {host}:{port} within {timeout:.0f} s",
                                  self.output())
            time.sleep(0.05)

    def wait_workers(self, port: int, workers: int, timeout: float,
                     settle: float = WORKERS_SETTLE_S) -> float:
        """Block until ``workers`` processes below the one started listen on ``port`` and
        none of them has used CPU time for ``settle`` s; return the seconds it took.

        The first answer (:meth:`wait_ready`) may come from the first worker up, and a run
        measured before the others serve would measure fewer workers than it records.
        Every server here starts its workers as children that hold the listening socket
        (their own SO_REUSEPORT one, or the supervisor's, inherited), so counting them is
        server-neutral -- but a worker holds it before it has imported the app and run its
        lifespan start-up, so listening is not serving. CPU time that has stopped rising
        is the end of that start-up work; a start-up that waits without CPU (a sleep, a
        connection to a database that is slow to answer) is not seen. Workers that never
        go quiet (a busy background task) are taken as ready at the deadline: they listen,
        which is all that can be known. StartFailed when fewer than ``workers`` listen
        within ``timeout`` s."""
        import psutil  # only for multi-worker runs

        started = time.monotonic()
        deadline = started + timeout
        listening: dict[int, Any] = {}  # pid -> psutil.Process, kept while it lives
        cpu: dict[int, float] = {}
        quiet_since = started
        while True:
            if not self.alive():
                raise StartFailed(f"exited with status {self.returncode} during start-up",
                                  self.output())
            self._listening_children(psutil, port, listening)
            now = time.monotonic()
            if len(listening) >= workers:
                spent = _cpu_seconds(psutil, listening)
                if spent != cpu:
                    cpu, quiet_since = spent, now
                elif now - quiet_since >= settle:
                    self.worker_pids = set(listening)
                    return now - started
            if now > deadline:
                if len(listening) >= workers:
                    self.worker_pids = set(listening)
                    return now - started
                raise StartFailed(f"only {len(listening)} of {workers} worker processes "
                                  f"listen on port {port} within the start-up timeout",
                                  self.output())
            time.sleep(0.05)

    def listening_workers(self, port: int) -> set[int]:
        """The pids of the processes below the one started that listen on ``port`` now
        (a run compares them with :attr:`worker_pids` after each level: a supervisor
        restarts a lost worker without a word)."""
        import psutil

        found: dict[int, Any] = {}
        self._listening_children(psutil, port, found)
        return set(found)

    def _listening_children(self, psutil: Any, port: int, found: dict[int, Any]) -> None:
        """Update ``found`` (pid -> process) to the processes below the one started that
        hold a TCP socket listening on ``port``. One already found is not read again
        (reading a process's sockets reads the whole /proc/net/tcp table) unless it has
        gone."""
        assert self.proc is not None
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            found.clear()
            return
        alive = {child.pid for child in children}
        for pid in [pid for pid in found if pid not in alive]:
            del found[pid]
        for child in children:
            if child.pid in found:
                continue
            try:
                sockets = child.net_connections("tcp")
            except psutil.Error:
                continue  # gone, or not ours to read
            if any(conn.status == psutil.CONN_LISTEN and conn.laddr and
                   conn.laddr.port == port for conn in sockets):
                found[child.pid] = child

    def stop(self, timeout: float) -> str:
        """SIGINT, then SIGKILL after ``timeout`` s; returns a note when it had to kill."""
        proc = self.proc
        note = ""
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(OSError):
                if os.name == "posix":
                    proc.send_signal(signal.SIGINT)
                else:
                    proc.send_signal(getattr(signal, "CTRL_BREAK_EVENT", signal.SIGTERM))
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                note = f"did not stop within {timeout:.0f} s of SIGINT; killed"
                self._kill_group()
                proc.kill()
                proc.wait()
        if proc is not None and os.name == "posix":
            self._kill_group()  # workers a server left behind
        return note

    def _kill_group(self) -> None:
        if self.proc is None or os.name != "posix":
            return
        with contextlib.suppress(OSError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.log.close()
