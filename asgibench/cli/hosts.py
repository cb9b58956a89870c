"""``bench hosts check``: verify the hosts of a run across machines without running load
(:mod:`asgibench.harness.hosts`)."""

from __future__ import annotations

from typing import Any

import click

from asgibench.cli.options import hosts_options
from asgibench.cli.output import stderr_console, table_console
from asgibench.errors import BenchError


@click.group("hosts", help="The hosts of a run across machines (docs/hosts.md).")
def hosts_command() -> None:
    pass


@hosts_command.command("check", help="""Check the hosts of a run across machines without
running load: each host is reached over SSH, its Python and asgibench (and the drivers and
servers it has) are read, its clock is compared with this machine's, and each driver host's
round-trip time to the server host is measured (a TCP handshake to its SSH port, at the
address servers would bind: its name resolved here). Exit status 1 when a host cannot be
reached or lacks Python 3.10+ or asgibench, or a driver host cannot connect to that
address. Which servers and drivers each host has is listed, not judged: bench run refuses
a host that lacks a selected one, before anything starts.

\b
  bench hosts check --server-host ssh://bench@10.0.0.5 --driver-host ssh://bench@10.0.0.6
""")
@hosts_options(required=True)
def check_command(**options: Any) -> None:
    from asgibench.harness import hosts, plan

    specs = plan.parse_topology(options, None)
    if specs is None:
        raise BenchError("give --server-host and --driver-host (ssh://[USER@]HOST[:PORT])")
    address, note = hosts.bind_address(specs[0])
    topology = hosts.Topology.connect(*specs, key=options.get("ssh_key"),
                                      python=options.get("remote_python") or
                                      hosts.DEFAULT_PYTHON)
    try:
        trips = topology.round_trips(address)
    finally:
        topology.close()
    console = table_console()
    for host in topology.hosts:
        probe = host.probe
        offset = "unknown" if host.clock_offset_ms is None else \
            f"{host.clock_offset_ms:+.1f} ms"
        drivers = ", ".join(name for name, info in sorted(probe.get("drivers", {}).items())
                            if info.get("available")) or "none"
        servers = ", ".join(name for name, ok in probe.get("servers", {}).items() if ok)
        console.print(f"{host.role:<8} {host.url}: {probe.get('hostname')}, Python "
                      f"{probe.get('python')}, asgibench {probe.get('asgibench')}, "
                      f"{len(host.usable)} CPUs, clock offset {offset}; drivers: {drivers}; "
                      f"servers: {servers}", soft_wrap=True)
    console.print(f"servers would bind on {address} (bench run --host names another)",
                  soft_wrap=True)
    if note:
        topology.notes.append(note)
    failed = False
    for url, answer in trips.items():
        if "rtt_ms" in answer:
            console.print(f"round trip {url} -> server host: {answer['rtt_ms']:.3f} ms",
                          soft_wrap=True)
        else:
            failed = True
            stderr_console().print(f"bench hosts check: error: {url} cannot reach the "
                                   f"server host: {answer.get('error')}", soft_wrap=True)
    for note in topology.notes:
        console.print(f"note: {note}", soft_wrap=True)
    if failed:
        raise SystemExit(1)
