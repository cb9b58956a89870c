"""What ``bench run --server-host/--driver-host`` runs on a host, over SSH:
``probe|serve|drive|rtt``, through :data:`asgibench.harness.hosts._BOOTSTRAP` (run with
``PYTHON -c``: it checks the Python and that asgibench imports, then calls :func:`main`;
``python -m asgibench.harness.agent`` runs the same by hand).

The controller (:mod:`asgibench.harness.hosts`) runs each as an SSH command and talks
JSON lines over its standard input and output; SSH carries everything (authentication,
encryption, the connection). Each command reuses what a local run uses: ``serve`` is a
:class:`~asgibench.harness.process.ServerProcess` (its own process group, pinned, output
tail), ``drive`` a registered load driver. A ``serve`` agent stops its server when its
standard input ends, so a controller or a connection that goes away leaves no server
running on the host.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import statistics
import sys
import threading
import time
from types import SimpleNamespace
from typing import Any

_write_lock = threading.Lock()


def emit(message: dict[str, Any]) -> None:
    """One JSON line to the controller (several threads of ``serve`` write)."""
    with _write_lock:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


def machine_id() -> str | None:
    """This machine's identity (systemd's machine-id): two hosts with the same one are
    one machine, whose CPUs the server and the driver must then share out."""
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            with open(path, encoding="ascii") as handle:
                value = handle.read().strip()
        except OSError:
            continue
        if value:
            return value
    return None


def probe(port_for: str | None) -> dict[str, Any]:
    """What the controller checks before a run and records in the results."""
    from asgibench import __version__, loops, protocols
    from asgibench.harness import drivers, environment, pinning, servers
    from asgibench.harness.ports import pick_port

    usable = pinning.usable_cpus()
    out: dict[str, Any] = {
        "asgibench": __version__,
        "python": platform.python_version(),
        "hostname": socket.gethostname(),
        "machine_id": machine_id(),
        "environment": environment.environment(usable),
        "pinning": pinning.supported(),
        "loops": loops.available(),
        "parsers": protocols.available(),
        "servers": {kind.name: kind.installed() for kind in servers.SERVERS.plugins()},
        "server_versions": servers.versions(),
        "drivers": {},
    }
    for name in drivers.DRIVERS.names():
        driver = drivers.DRIVERS.plugin(name)
        ok, why = driver.available()
        out["drivers"][name] = {"available": ok, "reason": why,
                                "version": driver.version() if ok else None,
                                "install": driver.install_hint}
    if port_for:
        out["port"] = pick_port(port_for)
    return out


def serve() -> None:
    """Start, check and stop one server as the controller's JSON lines say:
    ``{"cmd": "start", argv, cpus, env, unset, host, port}``, ``{"cmd": "ready", path,
    accept, timeout}``, ``{"cmd": "sample"}`` and ``{"cmd": "sampled"}`` around a measured
    level (the server's process tree sampled here, on its host: ``sampling``, then
    ``sampled`` with the figures), ``{"cmd": "stop", timeout}``. Replies ``started``/
    ``ready``/``stopped``/``failed``; ``exited`` (with the output's tail) whenever the
    server ends on its own."""
    from asgibench.harness.process import ServerProcess, StartFailed
    from asgibench.harness.sampling import Sampler

    server: ServerProcess | None = None
    sampler: Sampler | None = None
    stopping = threading.Event()
    address: tuple[str, int] = ("127.0.0.1", 0)

    def watch(proc: ServerProcess) -> None:
        while not stopping.is_set():
            if not proc.alive():
                if not stopping.is_set():
                    emit({"event": "exited", "returncode": proc.returncode,
                          "output": proc.output()})
                return
            time.sleep(0.05)

    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            msg = json.loads(line)
            cmd = msg.get("cmd")
            if cmd == "start":
                env = dict(os.environ)
                for name in msg.get("unset") or ():
                    env.pop(name, None)
                env.update(msg.get("env") or {})
                server = ServerProcess(list(msg["argv"]), msg.get("cpus"), env)
                address = (msg["host"], int(msg["port"]))
                try:
                    server.start_on(*address)
                except StartFailed as exc:
                    emit({"event": "failed", "reason": exc.reason, "output": exc.output})
                    continue
                emit({"event": "started", "pid": server.proc.pid if server.proc else None})
                threading.Thread(target=watch, args=(server,), daemon=True).start()
            elif cmd == "ready" and server is not None:
                test = SimpleNamespace(path=msg["path"], accept=msg["accept"])
                try:
                    took = server.wait_ready(*address, test,  # type: ignore[arg-type]
                                             float(msg["timeout"]))
                except StartFailed as exc:
                    emit({"event": "failed", "reason": exc.reason, "output": exc.output})
                    continue
                emit({"event": "ready", "seconds": took})
            elif cmd == "sample" and server is not None:
                if sampler is not None:  # a level whose "sampled" never came
                    sampler.__exit__(None, None, None)
                sampler = Sampler(server.proc.pid if server.proc else None)
                sampler.__enter__()
                sampler.started()
                emit({"event": "sampling"})
            elif cmd == "sampled":
                if sampler is None:
                    emit({"event": "sampled", "resources": None})
                    continue
                sampler.__exit__(None, None, None)
                emit({"event": "sampled", "resources": sampler.resources().to_dict()})
                sampler = None
            elif cmd == "stop":
                if sampler is not None:
                    sampler.__exit__(None, None, None)
                    sampler = None
                stopping.set()
                note = server.stop(float(msg.get("timeout") or 5.0)) if server else ""
                emit({"event": "stopped", "note": note,
                      "returncode": server.returncode if server else None,
                      "output": server.output() if server else ""})
                return
            else:  # a command this agent does not know (or no server yet): say so
                emit({"event": "unknown", "cmd": cmd})
    finally:
        stopping.set()
        if server is not None:
            server.stop(5.0)  # the controller went away: leave nothing running here
            server.close()


def drive() -> None:
    """One measurement: ``{"driver": NAME, "spec": {LoadSpec fields}}`` in, ``{"result":
    ..., "latency_ms": ...}`` or ``{"error": ...}`` out."""
    from asgibench.harness.drivers import DRIVERS, DriverError, LoadSpec

    msg = json.loads(sys.stdin.readline())
    spec = LoadSpec(**{**msg["spec"], "wires": tuple(msg["spec"].get("wires") or ())})
    try:
        result = DRIVERS.plugin(msg["driver"]).run(spec)
    except DriverError as exc:
        emit({"error": str(exc)})
        return
    # to_dict carries the latencies as an encoded HDR histogram where the driver keeps one.
    emit({"result": result.to_dict(), "latency_ms": result.latency_ms})


def rtt(host: str, port: int, count: int = 5) -> dict[str, Any]:
    """The round-trip time from here to ``host:port``: the median TCP connect time of
    ``count`` attempts (a handshake is one round trip), no load."""
    times: list[float] = []
    for _ in range(count):
        started = time.perf_counter()
        try:
            with socket.create_connection((host, port), timeout=5.0):
                times.append((time.perf_counter() - started) * 1000)
        except OSError as exc:
            return {"error": f"cannot connect to {host}:{port}: {exc.strerror or exc}"}
    return {"rtt_ms": statistics.median(times)}


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m asgibench.harness.agent probe|serve|drive|rtt",
              file=sys.stderr)
        return 2
    command = argv[0]
    if command == "probe":
        emit(probe(argv[1] if len(argv) > 1 else None))
    elif command == "serve":
        serve()
    elif command == "drive":
        drive()
    elif command == "rtt":
        emit(rtt(argv[1], int(argv[2])))
    else:
        print(f"unknown agent command {command!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
