"""Terminal tables of ``bench cost`` (instructions per request) and ``bench memory``
(resident size per kept-alive connection), servers side by side."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from asgibench.harness import testtypes
from asgibench.harness.cost import FLOOR, Cost
from asgibench.harness.memory import BASELINE_SERVER, Footprint, baseline, own_parser


def render_cost(counted: Sequence[Cost], console: Console) -> None:
    """Instructions per request per combination, with peer / asgibench and
    floor / server ratios (the floor: the canned-response server on the same loop)."""

    def key(c: Cost, server: str) -> tuple[str, str, str, str]:
        return (server, c.loop, c.parser if server != FLOOR else "-", c.test)

    by_key = {key(c, c.server): c for c in counted}
    echoes = any(c.test in testtypes.TEST_TYPES and
                 testtypes.TEST_TYPES.plugin(c.test).websocket is not None for c in counted)
    unit = " (a WebSocket type's request: one message echoed)" if echoes else ""
    table = Table(title=f"instructions per request (callgrind){unit}")
    for column in ("server", "loop", "parser", "test", "instr/request",
                   "peer / asgibench", "floor / server"):
        table.add_column(column, justify="right" if "/" in column else "left")
    for c in counted:
        if c.per_request is None:
            table.add_row(c.server, c.loop, c.parser, c.test, f"[dim]{c.reason}[/dim]", "", "")
            continue
        ours = by_key.get(key(c, "asgibench"))
        floor = by_key.get(key(c, FLOOR))
        vs_ours = (f"{c.per_request / ours.per_request:.2f}x"
                   if ours is not None and ours.per_request and c.server not in
                   ("asgibench", FLOOR) else "")
        of_floor = (f"{floor.per_request / c.per_request:.0%}"
                    if floor is not None and floor.per_request else "")
        table.add_row(c.server, c.loop, c.parser, c.test, f"{c.per_request / 1000:,.1f}k",
                      vs_ours, of_floor)
    console.print(table)


def render_memory(rows: Sequence[Footprint], console: Console) -> None:
    """Resident size at start and with the connections held, per connection, and
    server / asgibench with the connections held (the asgibench row of
    :func:`~asgibench.harness.memory.baseline`: same loop; same parser, or for granian's
    own parser asgibench's default one, named in the cell). A row without figures
    (unsupported, or failed) has its reason in the last column and nothing else."""
    held = " · idle WebSocket connections" if any(r.websocket for r in rows) else ""
    table = Table(title=f"resident memory (MiB){held}")
    for column in ("server", "loop", "parser", "started", "connections held",
                   "KiB per connection", "server / asgibench"):
        table.add_column(column, no_wrap=True,
                         justify="left" if column in ("server", "loop", "parser") else "right")
    table.add_column("reason")  # the one column that wraps when the terminal is narrow
    for r in rows:
        if r.idle_kib is None or r.held_kib is None or r.per_connection_kib is None:
            table.add_row(r.server, r.loop, r.parser, "", "", "", "", f"[dim]{r.reason}[/dim]")
            continue
        table.add_row(r.server, r.loop, r.parser, f"{r.idle_kib / 1024:.1f}",
                      f"{r.held_kib / 1024:.1f} ({r.connections})",
                      f"{r.per_connection_kib:.1f}", memory_ratio(r, rows), r.reason)
    console.print(table)


def memory_ratio(row: Footprint, rows: Sequence[Footprint]) -> str:
    """The "server / asgibench" cell of a measured row: never blank, so that a missing
    comparison reads as missing rather than as a figure nobody filled in."""
    if row.server == BASELINE_SERVER:
        return "baseline"
    base = baseline(row, rows)
    if base is None or not base.held_kib or row.held_kib is None:
        wanted = row.loop if own_parser(row.parser) else f"{row.loop}/{row.parser}"
        return f"no asgibench {wanted}"
    ratio = f"{row.held_kib / base.held_kib:.2f}x"
    return ratio if base.parser == row.parser else f"{ratio} vs {base.parser}"
