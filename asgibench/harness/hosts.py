"""Runs across machines: the server on one SSH host, load drivers on others, the database
on a third (``bench run --server-host/--driver-host/--db-host``, ``bench hosts check``).

The controller (this machine) opens one SSH connection per host with asyncssh, keys from
the user's SSH agent and ``~/.ssh`` or ``--ssh-key``, host keys checked against
``~/.ssh/known_hosts``. Everything on a host is done by asgibench itself, run there as
``REMOTE_PYTHON -c BOOTSTRAP ...`` (:mod:`asgibench.harness.agent` behind a check of the
Python and of asgibench's import): a
server started, checked and stopped like a local one, a measurement by a registered
driver, the host's environment. SSH is the only transport.

Before anything starts, every host is probed (:meth:`Topology.connect`); a host that
cannot be reached or lacks Python 3.10+, asgibench, the driver or a selected server is
one line naming it and what to install (:class:`HostNotReady`, exit status 1: the flags
are right, the host is not ready). A host that goes away mid-run fails the entries it
carried; the run goes on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import ipaddress
import json
import math
import queue
import shlex
import socket
import threading
import time
import urllib.parse
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from asgibench import __version__
from asgibench.errors import BenchError
from asgibench.harness import latency as hdr
from asgibench.harness.drivers import (
    ERROR_KINDS,
    Driver,
    DriverError,
    LoadResult,
    LoadSpec,
    Window,
)
from asgibench.harness.process import StartFailed
from asgibench.harness.results import Resources

T = TypeVar("T")

DEFAULT_PYTHON = "python3"
MIN_PYTHON = (3, 10)
CONNECT_TIMEOUT_S = 10.0
#: A host that answers no SSH keepalive for this long (interval x count) is gone.
KEEPALIVE_INTERVAL_S = 5.0
KEEPALIVE_COUNT = 3
#: Seconds a probe, a start or a stop may take on a host (Python's start-up included).
COMMAND_TIMEOUT_S = 60.0
#: Seconds the clock comparison may take (five round trips and a Python start-up).
CLOCK_TIMEOUT_S = 15.0
#: Seconds one host's probe may take in all: connecting, the probe, the clock.
PROBE_TIMEOUT_S = CONNECT_TIMEOUT_S + COMMAND_TIMEOUT_S + CLOCK_TIMEOUT_S
ROLES = ("server", "driver", "database")

#: Run with ``REMOTE_PYTHON -c``: says what is missing in a form the controller reads,
#: on any Python (no f-strings), then runs the agent.
_BOOTSTRAP = """\
import sys, json
v = sys.version_info
if v < (3, 10):
    print(json.dumps({"python_too_old": "%d.%d.%d" % tuple(v[:3])}))
    sys.exit(0)
try:
    import asgibench.harness.agent as agent
except ImportError as exc:
    print(json.dumps({"no_asgibench": str(exc), "python": "%d.%d.%d" % tuple(v[:3])}))
    sys.exit(0)
sys.exit(agent.main(sys.argv[1:]))
"""


#: Answers a clock reading per line received: the offset is read NTP's way, from the
#: exchange with the shortest round trip.
_CLOCK = """\
import sys, time
for _ in range(5):
    sys.stdin.readline()
    print(repr(time.time()), flush=True)
"""


class HostNotReady(BenchError):
    """A host cannot be reached or lacks what the run needs. Exit status 1: the flags are
    right, the machine is not ready."""

    exit_code = 1


def asyncssh_module() -> Any:
    """asyncssh (the ``[ssh]`` extra: imported only for a run across hosts), or a
    BenchError saying how to install it."""
    try:
        import asyncssh
    except ImportError:
        raise BenchError("runs across hosts need asyncssh on this machine: pip install "
                         "'asgibench[ssh]'") from None
    return asyncssh


def check_key(path: str) -> None:
    """BenchError (one line) unless ``--ssh-key`` is a private key asyncssh can load
    without asking anything: checked before any host is contacted."""
    asyncssh = asyncssh_module()
    try:
        asyncssh.read_private_key(path)
    except OSError as exc:
        raise BenchError(f"--ssh-key {path!r}: cannot read it "
                         f"({exc.strerror or exc})") from None
    except ValueError as exc:  # asyncssh.KeyImportError
        if "passphrase" in str(exc).lower():
            raise BenchError(f"--ssh-key {path!r} is protected by a passphrase: load it "
                             f"into ssh-agent (ssh-add {shlex.quote(path)}) and leave out "
                             "--ssh-key") from None
        raise BenchError(f"--ssh-key {path!r} is not a private key asgibench can read "
                         f"({exc}); give an OpenSSH private key, or load it into ssh-agent "
                         "and leave out --ssh-key") from None


def unreachable(url: str, exc: BaseException, asyncssh: Any) -> str:
    """Why ``url`` cannot be reached, in one line with what to do where there is
    something to do."""
    if isinstance(exc, asyncio.TimeoutError):
        return f"cannot reach {url}: no answer in time (timed out)"
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        text += " (ssh there once to add its host key to ~/.ssh/known_hosts)"
    elif isinstance(exc, asyncssh.PermissionDenied):
        text += " (no key was accepted: load yours into ssh-agent or give --ssh-key)"
    elif isinstance(exc, ValueError):  # a key asyncssh cannot load (KeyImportError)
        text = f"a key cannot be loaded: {text} (load it into ssh-agent: ssh-add)"
    return f"cannot reach {url}: {text}"


@dataclass(frozen=True)
class HostSpec:
    """``ssh://[USER@]HOST[:PORT]``."""

    host: str
    port: int = 22
    user: str | None = None

    @property
    def url(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.user}@" if self.user else ""
        return f"ssh://{user}{shown}:{self.port}"


def parse_host(text: str, flag: str) -> HostSpec:
    """``ssh://[USER@]HOST[:PORT]`` -> HostSpec; BenchError (one line) otherwise."""
    raw = text.strip()
    parts = urllib.parse.urlsplit(raw)
    if parts.scheme.lower() != "ssh" or not parts.hostname:
        raise BenchError(f"{flag} {text!r} is not ssh://[USER@]HOST[:PORT] (e.g. "
                         "ssh://bench@10.0.0.5)")
    if parts.password is not None:
        raise BenchError(f"{flag} {text!r}: no password in the URL; asgibench uses keys "
                         "(the SSH agent, ~/.ssh or --ssh-key)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise BenchError(f"{flag} {text!r}: give only ssh://[USER@]HOST[:PORT]")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0 or (port is None and ":" in parts.netloc.rpartition("@")[2]
                     .rpartition("]")[2]):
        raise BenchError(f"{flag} {text!r}: the port must be a number from 1 to 65535")
    port = port or 22
    return HostSpec(parts.hostname, port, parts.username or None)


def bind_address(spec: HostSpec) -> tuple[str, str | None]:
    """(the address servers bind on the server host, a note or None): the SSH URL's
    host resolved here, on the controller, to an IP address. Bound as a name, it would be
    resolved on the server host, where a machine's own name often means a loopback
    address (Debian maps it to 127.0.1.1), which the driver hosts cannot reach.
    HostNotReady when the name does not resolve."""
    try:
        ipaddress.ip_address(spec.host)
        return spec.host, None
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(spec.host, spec.port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise HostNotReady(f"cannot resolve the server host {spec.host!r}: "
                           f"{exc.strerror or exc}") from None
    address = str(found[0][4][0])
    note = None
    if ipaddress.ip_address(address).is_loopback:
        note = (f"the server host {spec.host!r} resolves to the loopback address {address} "
                "here: driver hosts on other machines cannot reach servers there; give "
                "--host with the server host's network address")
    return address, note


def parse_hosts(text: str, flag: str) -> list[HostSpec]:
    """A comma-separated list of ``ssh://`` URLs; each host once."""
    specs = [parse_host(item, flag) for item in text.split(",") if item.strip()]
    if not specs:
        raise BenchError(f"{flag} is empty; give ssh://[USER@]HOST[:PORT]")
    if len(set(specs)) != len(specs):
        raise BenchError(f"{flag} names a host twice")
    return specs


@dataclass
class Host:
    """One host of the topology in one role, with what its probe found."""

    spec: HostSpec
    role: str
    probe: dict[str, Any] = field(default_factory=dict)
    cpus: list[int] | None = None
    clock_offset_ms: float | None = None
    #: Why the host is gone (its connection closed mid-run), or None.
    gone: str | None = None

    @property
    def url(self) -> str:
        return self.spec.url

    @property
    def usable(self) -> list[int]:
        return list(self.probe.get("environment", {}).get("cpu", {}).get("usable_cpus") or
                    [0])

    def record(self) -> dict[str, Any]:
        """This host in the results (``environment.hosts``)."""
        out: dict[str, Any] = {
            "role": self.role,
            "url": self.url,
            "hostname": self.probe.get("hostname"),
            "asgibench_version": self.probe.get("asgibench"),
            "cpus": self.cpus,
            "clock_offset_ms": None if self.clock_offset_ms is None else
            round(self.clock_offset_ms, 3),
            "environment": self.probe.get("environment", {}),
        }
        if self.gone:
            out["gone"] = self.gone
        return out


class SSH:
    """asyncssh on its own event-loop thread, called from the synchronous harness: one
    connection per host, commands run with the remote Python."""

    def __init__(self, key: str | None = None, python: str = DEFAULT_PYTHON) -> None:
        self._asyncssh = asyncssh_module()
        self.key = key
        self.python = python
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever,
                                        name="asgibench-ssh", daemon=True)
        self._thread.start()
        #: One connection per host, however many roles it has: the connecting task is
        #: shared, so two probes of one host at once open one connection.
        self._conns: dict[HostSpec, asyncio.Task[Any]] = {}

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the SSH thread and wait for it (TimeoutError past ``timeout``)."""
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"no answer within {timeout:g} s") from None

    async def connect(self, spec: HostSpec) -> Any:
        task = self._conns.get(spec)
        if task is None or (task.done() and (task.cancelled() or task.exception())):
            task = self._conns[spec] = asyncio.ensure_future(self._connect(spec))
        # Shielded: a caller that gives up does not cancel the others' connection.
        return await asyncio.shield(task)

    async def _connect(self, spec: HostSpec) -> Any:
        options: dict[str, Any] = {
            "port": spec.port, "connect_timeout": CONNECT_TIMEOUT_S,
            "keepalive_interval": KEEPALIVE_INTERVAL_S,
            "keepalive_count_max": KEEPALIVE_COUNT,
        }
        if spec.user:
            options["username"] = spec.user
        if self.key:
            options["client_keys"] = [self.key]
        return await self._asyncssh.connect(spec.host, **options)

    def command(self, args: list[str]) -> str:
        """The shell command running the agent with ``args`` on a host."""
        return shlex.join([self.python, "-c", _BOOTSTRAP, *args])

    async def agent(self, spec: HostSpec, args: list[str], payload: dict[str, Any] | None
                    = None, timeout: float = COMMAND_TIMEOUT_S) -> dict[str, Any]:
        """Run the agent once; its last JSON line. BenchError-free: raises
        :class:`RemoteError` with one line."""
        conn = await self.connect(spec)
        stdin = json.dumps(payload) + "\n" if payload is not None else None
        done = await asyncio.wait_for(conn.run(self.command(args), input=stdin,
                                               check=False), timeout)
        return _last_json(spec, self.python, done.exit_status, str(done.stdout or ""),
                          str(done.stderr or ""))

    async def clock_offset(self, spec: HostSpec) -> float:
        """The host's clock minus this machine's, in ms (to within half the shortest of
        five round trips)."""
        conn = await self.connect(spec)
        process = await conn.create_process(shlex.join([self.python, "-c", _CLOCK]))
        best: tuple[float, float] | None = None
        try:
            for _ in range(5):
                sent = time.time()
                process.stdin.write("\n")
                line = await asyncio.wait_for(process.stdout.readline(), COMMAND_TIMEOUT_S)
                received = time.time()
                offset = float(line) - (sent + received) / 2
                if best is None or received - sent < best[0]:
                    best = (received - sent, offset)
        finally:
            process.close()
        return 0.0 if best is None else best[1] * 1000

    async def open(self, spec: HostSpec, args: list[str]) -> Any:
        conn = await self.connect(spec)
        return await conn.create_process(self.command(args))

    def write(self, process: Any, line: str) -> None:
        self._loop.call_soon_threadsafe(process.stdin.write, line)

    def close(self) -> None:
        async def close_all() -> None:
            conns = []
            for task in self._conns.values():
                if not task.done():
                    task.cancel()
                elif not task.cancelled() and task.exception() is None:
                    conns.append(task.result())
            for conn in conns:
                conn.close()
            for conn in conns:
                try:
                    await asyncio.wait_for(conn.wait_closed(), 5.0)
                except (asyncio.TimeoutError, OSError, self._asyncssh.Error):
                    pass

        try:
            self.call(close_all(), 10.0)
        except TimeoutError:
            pass
        self._conns.clear()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5.0)


class RemoteError(Exception):
    """A command on a host failed (one line)."""


def _last_json(spec: HostSpec, python: str, status: int | None, stdout: str,
               stderr: str) -> dict[str, Any]:
    for line in reversed(stdout.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    tail = (stderr.strip().splitlines() or ["no output"])[-1]
    if status == 127:
        return {"no_python": tail}
    raise RemoteError(f"{spec.url}: {python} exited with status {status}: {tail}")


def _gone_reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"connection lost ({text})"


class RemoteSampler:
    """:class:`~asgibench.harness.sampling.Sampler`'s interface for a server on the server
    host: the agent there samples the server's tree (CPU, peak memory) from entering to
    leaving, which spans the driver hosts' whole measurement, their start-up included (the
    controller is not told their measured window), so CPU per request is a little high.
    The driver's own CPU is on the driver hosts: not sampled."""

    DRIVER_UNKNOWN = "the driver ran on the driver hosts, which are not sampled"

    def __init__(self, server: RemoteServerProcess) -> None:
        self.server = server
        self.figures: dict[str, Any] | None = None
        self.reason = "the server host did not answer the sampling request"

    def __enter__(self) -> RemoteSampler:
        self.sampling = False
        if self.server.alive():
            self.server._send({"cmd": "sample"})
            reply = self.server._reply(COMMAND_TIMEOUT_S, expect=("sampling",))
            self.sampling = reply.get("event") == "sampling"
            if not self.sampling:  # an older agent answers "unknown"
                self.reason = f"the agent on {self.server.host.url} did not sample: " \
                              f"{reply.get('event')}"
        return self

    def started(self) -> None:  # the window is the agent's: entering to leaving
        pass

    def ended(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        if not self.sampling:
            return
        if not self.server.alive():
            self.reason = self.server.gone or "the server ended during the level"
            return
        self.server._send({"cmd": "sampled"})
        reply = self.server._reply(COMMAND_TIMEOUT_S, expect=("sampled",))
        if reply.get("event") == "sampled" and reply.get("resources"):
            self.figures = dict(reply["resources"])

    def resources(self, result: LoadResult | None = None) -> Resources:
        if self.figures is None:
            return Resources(wall_s=0.0, server_unknown=self.reason,
                             driver_unknown=self.DRIVER_UNKNOWN)
        out = Resources.from_dict(self.figures)
        out.driver_cpu_s = out.driver_wait_s = out.driver_window_s = None
        out.driver_cpus = None
        out.driver_unknown = self.DRIVER_UNKNOWN
        return out


class RemoteServerProcess:
    """A server on the server host, with :class:`~asgibench.harness.process.ServerProcess`'s
    interface: an agent ``serve`` session starts, checks and stops it there. Alive while the
    server runs and the SSH session stands."""

    def __init__(self, topology: Topology, argv: list[str], cpus: list[int] | None,
                 env: dict[str, str], unset: list[str]) -> None:
        self.topology = topology
        self.host = topology.server
        self.argv = argv
        self.cpus = cpus
        self.env = env
        self.unset = unset
        self._process: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self._exited: dict[str, Any] | None = None
        self._stopped = False
        self.gone: str | None = None
        self._output = ""

    # -- the session ----------------------------------------------------------------------

    async def _open(self) -> None:
        self._process = await self.topology.ssh.open(self.host.spec, ["serve"])
        # Kept: the loop holds only a weak reference to a task.
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        reason = "the SSH session ended"
        try:
            async for line in self._process.stdout:
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                if msg.get("event") == "exited":
                    self._exited = msg
                    self._output = str(msg.get("output") or "")
                else:
                    self._replies.put(msg)
        except Exception as exc:  # whatever closed the session, it is gone
            reason = _gone_reason(exc)
        if not self._stopped:
            stderr = ""
            try:
                stderr = str(await asyncio.wait_for(self._process.stderr.read(), 1.0))
            except Exception:  # a closed session has none to give
                pass
            if self._exited is None:
                self.gone = f"server host {self.host.url} went away: {reason}"
                self.host.gone = self.host.gone or reason
                self._output = self._output or stderr.strip()[-2000:]
        self._replies.put({"event": "eof"})

    def _send(self, msg: dict[str, Any]) -> None:
        self.topology.ssh.write(self._process, json.dumps(msg) + "\n")

    def _reply(self, timeout: float, expect: tuple[str, ...] = ()) -> dict[str, Any]:
        """The agent's next reply; with ``expect``, the next one of those events (or one
        that ends the exchange: failed, unknown, eof), skipping a stale reply to an
        earlier request that came after its own timeout."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                reply = self._replies.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                return {"event": "timeout"}
            if not expect or reply.get("event") in (*expect, "failed", "unknown", "eof"):
                return reply

    # -- ServerProcess's interface ----------------------------------------------------------

    def start_on(self, host: str, port: int) -> None:
        if self.host.gone:
            raise StartFailed(f"server host {self.host.url} went away earlier: "
                              f"{self.host.gone}", "")
        try:
            self.topology.ssh.call(self._open(), COMMAND_TIMEOUT_S)
        except Exception as exc:  # one line, whatever SSH raised
            self.host.gone = _gone_reason(exc)
            raise StartFailed(f"cannot start on {self.host.url}: {self.host.gone}", "") \
                from exc
        self._send({"cmd": "start", "argv": self.argv, "cpus": self.cpus, "env": self.env,
                    "unset": self.unset, "host": host, "port": port})
        reply = self._reply(COMMAND_TIMEOUT_S)
        if reply.get("event") != "started":
            raise self._failed(reply)

    def _failed(self, reply: dict[str, Any]) -> StartFailed:
        if reply.get("event") == "failed":
            return StartFailed(str(reply.get("reason")), str(reply.get("output") or ""))
        if self._exited is not None:
            return StartFailed(f"exited with status {self._exited.get('returncode')} "
                               "during start-up", self._output)
        if self.gone:
            return StartFailed(self.gone, self._output)
        return StartFailed(f"no answer from the agent on {self.host.url}", self._output)

    def wait_ready(self, host: str, port: int, test: Any, timeout: float) -> float:
        self._send({"cmd": "ready", "path": test.path, "accept": test.accept,
                    "timeout": timeout})
        reply = self._reply(timeout + COMMAND_TIMEOUT_S)
        if reply.get("event") != "ready":
            raise self._failed(reply)
        return float(reply.get("seconds") or 0.0)

    def alive(self) -> bool:
        return self._process is not None and self._exited is None and self.gone is None

    def sampler(self) -> RemoteSampler:
        """Samples the server's process tree on its host around one measured level."""
        return RemoteSampler(self)

    @property
    def returncode(self) -> int | None:
        return None if self._exited is None else self._exited.get("returncode")

    def output(self, lines: int = 20) -> str:
        return "\n".join(self._output.splitlines()[-lines:])

    def stop(self, timeout: float) -> str:
        if self._process is None or self._stopped:
            return ""
        self._stopped = True
        note = ""
        if self.gone is None:
            self._send({"cmd": "stop", "timeout": timeout})
            reply = self._reply(timeout + COMMAND_TIMEOUT_S, expect=("stopped",))
            if reply.get("event") == "stopped":
                note = str(reply.get("note") or "")
                self._output = self._output or str(reply.get("output") or "")
        process = self._process

        async def close() -> None:
            process.close()

        try:
            self.topology.ssh.call(close(), 5.0)
        except (TimeoutError, RuntimeError):
            pass
        return note

    def close(self) -> None:
        self.stop(5.0)


@dataclass
class Topology:
    """The hosts of one run and the SSH connections to them."""

    ssh: SSH
    server: Host
    drivers: list[Host]
    database: Host | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def hosts(self) -> list[Host]:
        return [self.server, *self.drivers, *([self.database] if self.database else [])]

    # -- before the run ---------------------------------------------------------------------

    @classmethod
    def connect(cls, server: HostSpec, drivers: list[HostSpec], database: HostSpec | None,
                key: str | None = None, python: str = DEFAULT_PYTHON,
                port_for: str | None = None) -> Topology:
        """Connect to every host and probe it (in parallel); HostNotReady (one line) for
        the first that cannot be reached or has no usable Python and asgibench."""
        ssh = SSH(key, python)
        topology = cls(ssh, Host(server, "server"), [Host(d, "driver") for d in drivers],
                       Host(database, "database") if database else None)
        try:
            topology._probe_all(port_for)
        except BaseException:
            ssh.close()
            raise
        return topology

    def _probe_all(self, port_for: str | None) -> None:
        asyncssh = self.ssh._asyncssh

        async def probe(host: Host) -> str | None:
            args = ["probe", port_for] if port_for and host.role == "server" else ["probe"]
            found = await self.ssh.agent(host.spec, args)
            problem = self._judge(host, found)
            if problem is None:
                try:
                    host.clock_offset_ms = await asyncio.wait_for(
                        self.ssh.clock_offset(host.spec), CLOCK_TIMEOUT_S)
                except (OSError, ValueError, asyncio.TimeoutError, asyncssh.Error):
                    host.clock_offset_ms = None  # recorded as unknown
            return problem

        async def one(host: Host) -> str | None:
            try:
                return await asyncio.wait_for(probe(host), PROBE_TIMEOUT_S)
            except (OSError, ValueError, asyncio.TimeoutError, RemoteError,
                    asyncssh.Error) as exc:
                return unreachable(host.url, exc, asyncssh)

        async def every() -> list[str | None]:
            return list(await asyncio.gather(*(one(h) for h in self.hosts)))

        try:
            found = self.ssh.call(every(), PROBE_TIMEOUT_S + 15)
        except TimeoutError:
            raise HostNotReady(f"the hosts did not all answer within "
                               f"{PROBE_TIMEOUT_S + 15:g} s") from None
        problems = [p for p in found if p]
        if problems:
            raise HostNotReady(problems[0])

    def _judge(self, host: Host, found: dict[str, Any]) -> str | None:
        python = self.ssh.python
        if "no_python" in found:
            return (f"{host.url} has no Python at {python!r} ({found['no_python']}): install "
                    "Python 3.10+ there, or name it with --remote-python PATH")
        if "python_too_old" in found:
            return (f"{host.url}: {python} is Python {found['python_too_old']}; asgibench "
                    "needs 3.10+: install it there and name it with --remote-python PATH")
        missing = "No module named 'asgibench'"
        if "no_asgibench" in found and not str(found["no_asgibench"]).startswith(missing):
            # asgibench is there but does not import (a dependency missing, say).
            return (f"{host.url}: asgibench does not import with {python} (Python "
                    f"{found.get('python')}): {found['no_asgibench']}; reinstall it there "
                    f"(pip install 'asgibench[all]=={__version__}')")
        if "no_asgibench" in found:
            return (f"{host.url}: {python} (Python {found.get('python')}) has no asgibench: "
                    f"pip install 'asgibench[all]=={__version__}' there with that Python, "
                    "or name the one that has it with --remote-python PATH")
        host.probe = found
        if found.get("asgibench") != __version__:
            self.notes.append(f"{host.url} has asgibench {found.get('asgibench')}, this "
                              f"machine {__version__}")
        return None

    def require(self, servers: list[str], loops: list[str], parsers: list[str],
                driver: str, install: dict[str, str]) -> None:
        """HostNotReady (one line) unless the server host has every selected server, loop
        and parser, and every driver host the driver. ``install``: how to install each
        name (the registries' hints)."""
        probe = self.server.probe
        for name in servers:
            if not probe.get("servers", {}).get(name):
                raise HostNotReady(self._lacks(self.server, name, install))
        for name in loops:
            if name not in probe.get("loops", []):
                raise HostNotReady(self._lacks(self.server, f"the {name} loop", install,
                                               name))
        for name in parsers:
            if name not in probe.get("parsers", []) and name != "rust":
                raise HostNotReady(self._lacks(self.server, f"the {name} parser", install,
                                               name))
        for host in self.drivers:
            info = host.probe.get("drivers", {}).get(driver) or {}
            if not info.get("available"):
                hint = info.get("install") or install.get(driver, "")
                raise HostNotReady(f"driver host {host.url} lacks the {driver} driver "
                                   f"({info.get('reason') or 'not registered there'})"
                                   + (f": install it there ({hint})" if hint else ""))

    def _lacks(self, host: Host, what: str, install: dict[str, str],
               name: str | None = None) -> str:
        hint = install.get(name or what, "")
        return (f"server host {host.url} lacks {what}" +
                (f": install it there with {self.ssh.python} -m {hint}"
                 if hint.startswith("pip ") else f": install it there ({hint})"
                 if hint else ""))

    def auto_driver(self) -> str:
        """``--driver auto`` across hosts: wrk when every driver host has it."""
        every = all(h.probe.get("drivers", {}).get("wrk", {}).get("available")
                    for h in self.drivers)
        return "wrk" if every else "python"

    def pin(self, spec: str) -> None:
        """Each role's CPUs on its host: ``auto`` gives the server all of its host's and
        each driver all of its own -- halves when a driver host is the server host's
        machine (the same machine-id); ``S:D`` names them on the hosts; ``none``
        pins nothing."""
        from asgibench.harness.pinning import parse_cpu_list

        key = spec.strip().lower()
        if key == "none":
            return
        server_mid = self.server.probe.get("machine_id")
        if key == "auto":
            shared = [h for h in self.drivers
                      if server_mid and h.probe.get("machine_id") == server_mid]
            usable = self.server.usable
            if shared and len(usable) >= 2:
                half = (len(usable) + 1) // 2
                self.server.cpus = usable[:half]
                for host in shared:
                    host.cpus = usable[half:]
                self.notes.append(f"{', '.join(h.url for h in shared)} and the server host "
                                  "are one machine (the same machine-id): its CPUs are "
                                  "split between server and driver")
            elif shared:
                self.notes.append("the server and a driver host are one machine with one "
                                  "usable CPU: they share it")
            else:
                self.server.cpus = usable
            for host in self.drivers:
                if host not in shared:
                    host.cpus = host.usable
        else:
            if ":" not in key:
                raise BenchError(f"bad --cpus {spec!r}; use auto, none or SERVER:DRIVER "
                                 "such as 0:1")
            server_text, driver_text = key.split(":", 1)
            self.server.cpus = parse_cpu_list(server_text)
            for host in self.drivers:
                host.cpus = parse_cpu_list(driver_text)
            for host in [self.server, *self.drivers]:
                unknown = sorted(set(host.cpus or []) - set(host.usable))
                if unknown:
                    raise BenchError(f"--cpus names CPU(s) {', '.join(map(str, unknown))} "
                                     f"{host.url} does not have; usable there: "
                                     f"{', '.join(map(str, host.usable))}")
        for host in [self.server, *self.drivers]:
            if host.cpus is not None and not host.probe.get("pinning"):
                host.cpus = None  # no CPU pinning on that OS

    def pinning(self) -> dict[str, Any]:
        """``settings.pinning`` of a run across hosts (each host's in ``environment.hosts``)."""
        pinned = self.server.cpus is not None
        return {"method": "sched_setaffinity" if pinned else "none",
                "server_cpus": self.server.cpus,
                "driver_cpus": self.drivers[0].cpus if self.drivers else None,
                "usable_cpus": self.server.usable,
                "note": "across hosts: the server's CPUs on the server host, each driver's "
                        "on its host (environment.hosts)"}

    # -- during the run -----------------------------------------------------------------------

    def server_process(self, argv: list[str], env: dict[str, str],
                       unset: list[str]) -> RemoteServerProcess:
        return RemoteServerProcess(self, argv, self.server.cpus, env, unset)

    def drive(self, driver: str, spec: LoadSpec) -> LoadResult:
        """One measurement by every driver host at once, their load added up."""
        gone = [h for h in self.drivers if h.gone]
        if gone:
            raise DriverError(f"driver host {gone[0].url} went away earlier: {gone[0].gone}")

        async def one(host: Host) -> dict[str, Any]:
            cpus = host.cpus
            payload = dataclasses.asdict(spec)
            payload.update(cpus=cpus, slots=len(cpus) if cpus else
                           max(len(host.usable) // 2, 1), wires=list(spec.wires))
            return await self.ssh.agent(host.spec, ["drive"],
                                        {"driver": driver, "spec": payload},
                                        spec.duration + spec.timeout + COMMAND_TIMEOUT_S)

        async def every() -> list[Any]:
            return list(await asyncio.gather(*(one(h) for h in self.drivers),
                                             return_exceptions=True))

        try:
            answers = self.ssh.call(every(), spec.duration + spec.timeout +
                                    2 * COMMAND_TIMEOUT_S)
        except TimeoutError as exc:
            raise DriverError(f"no answer from the driver hosts: {exc}") from None
        parts: list[tuple[Host, dict[str, Any]]] = []
        for host, answer in zip(self.drivers, answers, strict=True):
            if isinstance(answer, RemoteError):
                raise DriverError(str(answer))
            if isinstance(answer, BaseException):
                host.gone = _gone_reason(answer)
                raise DriverError(f"driver host {host.url} went away: {host.gone}")
            if "error" in answer:
                raise DriverError(f"{host.url}: {answer['error']}")
            parts.append((host, answer))
        return merge(parts)

    def records(self) -> list[dict[str, Any]]:
        return [host.record() for host in self.hosts]

    def close(self) -> None:
        self.ssh.close()

    # -- bench hosts check --------------------------------------------------------------------

    def round_trips(self, address: str | None = None) -> dict[str, dict[str, Any]]:
        """Each driver host's round-trip time to the server host at ``address`` (where
        the servers would bind; default: its SSH URL's host), a TCP handshake to its SSH
        port: no server needs to run, no load is sent. A driver host that cannot connect
        there could not reach the servers either."""
        target = address or self.server.spec.host

        async def one(host: Host) -> dict[str, Any]:
            try:
                return await self.ssh.agent(host.spec, ["rtt", target,
                                                        str(self.server.spec.port)])
            except (OSError, ValueError, asyncio.TimeoutError, RemoteError,
                    self.ssh._asyncssh.Error) as exc:
                return {"error": unreachable(host.url, exc, self.ssh._asyncssh)}

        async def every() -> list[dict[str, Any]]:
            return list(await asyncio.gather(*(one(h) for h in self.drivers)))

        try:
            found = self.ssh.call(every(), COMMAND_TIMEOUT_S + 15)
        except TimeoutError:
            raise HostNotReady(f"the driver hosts did not answer within "
                               f"{COMMAND_TIMEOUT_S + 15:g} s") from None
        return {host.url: answer for host, answer in zip(self.drivers, found, strict=True)}


def merge(parts: list[tuple[Host, dict[str, Any]]]) -> LoadResult:
    """Several driver hosts' results as one: requests, errors and checks added; latencies
    merged exactly from the hosts' histograms when every one recorded one (the Python
    driver), else weighted by requests and marked ``approximate`` (wrk gives percentiles
    only). ``drivers`` in the record gives each host's share."""
    results = [answer["result"] for _, answer in parts]
    shares = [{"host": host.url, "requests": answer["result"]["requests"],
               "requests_per_s": answer["result"]["requests_per_s"]} for host, answer in parts]
    total = sum(int(r["requests"]) for r in results)
    latencies = [answer.get("latency_ms") or answer["result"]["latency_ms"]
                 for _, answer in parts]
    # The Python driver's result carries its latencies as an encoded HDR histogram.
    histograms = [answer["result"].get("histogram") for _, answer in parts]
    extra: dict[str, Any] = {"drivers": shares}
    merged_text: str | None = None
    if len(parts) == 1:
        latency = dict(latencies[0])
        merged_text = histograms[0]
    elif all(h is not None for h in histograms):
        merged = hdr.merge(hdr.decode(h) for h in histograms if h is not None)
        latency = hdr.stats_ms(merged)
        # The hosts' own maxima are exact; the histogram's is rounded to its bucket.
        latency["max"] = max(float(lat.get("max", 0.0)) for lat in latencies)
        merged_text = hdr.encode(merged)
        extra["latency_merge"] = "exact"
    else:
        weights = [max(int(r["requests"]), 0) for r in results]
        norm = sum(weights) or len(weights)
        weights = weights if sum(weights) else [1] * len(weights)
        pairs = list(zip(weights, latencies, strict=True))
        latency = {key: sum(w * float(lat.get(key, 0.0)) for w, lat in pairs) / norm
                   for key in ("p50", "p75", "p90", "p99", "mean")}
        # The pooled standard deviation is exact from each part's mean and stdev.
        second = sum(w * (float(lat.get("stdev", 0.0)) ** 2 + float(lat.get("mean", 0.0)) ** 2)
                     for w, lat in pairs) / norm
        latency["stdev"] = math.sqrt(max(second - latency["mean"] ** 2, 0.0))
        latency["max"] = max(float(lat.get("max", 0.0)) for lat in latencies)
        extra["latency_merge"] = "approximate"
    # Every host measured for the same duration; their mean is the run's.
    duration = sum(float(r["duration_s"]) for r in results) / len(results)
    return LoadResult(
        requests=total,
        duration_s=duration,
        latency_ms=latency,
        errors={kind: sum(int(r["errors"].get(kind, 0)) for r in results)
                for kind in ERROR_KINDS},
        non_2xx=sum(int(r.get("non_2xx", 0)) for r in results),
        bad_body=sum(int(r.get("bad_body", 0)) for r in results),
        checked=sum(int(r.get("checked", 0)) for r in results),
        histogram=merged_text,
        extra=extra,
    )


class HostsDriver(Driver):
    """A registered driver, run on every driver host of the topology at once."""

    def __init__(self, name: str, topology: Topology) -> None:
        self.name = name
        self.topology = topology

    def available(self) -> tuple[bool, str]:
        return True, ""  # checked on each host (Topology.require)

    def version(self) -> str | None:
        info = self.topology.drivers[0].probe.get("drivers", {}).get(self.name) or {}
        return info.get("version")

    def run(self, spec: LoadSpec, window: Window | None = None) -> LoadResult:
        # ``window`` is not told: the measured window runs on the driver hosts. The
        # server's tree is sampled on its host around this call (RemoteSampler).
        return self.topology.drive(self.name, spec)

    def describe(self, slots: int) -> dict[str, Any]:
        return {"name": self.name, "version": self.version(),
                "hosts": [h.url for h in self.topology.drivers]}
