"""Terminal tables of ``bench cost`` (instructions per request) and ``bench memory``
(resident size per kept-alive connection), servers side by side."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from asgibench.harness.cost import FLOOR, Cost
from asgibench.harness.memory import Footprint


def render_cost(counted: Sequence[Cost], console: Console) -> None:
    """Instructions per request per combination, with peer / asgibench and
    floor / server ratios (the floor: the canned-response server on the same loop)."""

    def key(c: Cost, server: str) -> tuple[str, str, str, str]:
        return (server, c.loop, c.parser if server != FLOOR else "-", c.test)

    by_key = {key(c, c.server): c for c in counted}
    table = Table(title="instructions per request (callgrind)")
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
    server / asgibench on the same loop and parser."""
    ours = {(r.loop, r.parser): r for r in rows if r.server == "asgibench"}
    table = Table(title="resident memory (MiB)")
    for column in ("server", "loop", "parser", "started", "connections held",
                   "KiB per connection", "server / asgibench"):
        table.add_column(column, justify="left" if column in ("server", "loop", "parser")
                         else "right")
    for r in rows:
        if r.held_kib is None:
            table.add_row(r.server, r.loop, r.parser, f"[dim]{r.reason}[/dim]", "", "", "")
            continue
        mine = ours.get((r.loop, r.parser))
        ratio = (f"{r.held_kib / mine.held_kib:.2f}x" if mine is not None and mine.held_kib
                 and r.server != "asgibench" else "")
        table.add_row(r.server, r.loop, r.parser, f"{r.idle_kib / 1024:.1f}",
                      f"{r.held_kib / 1024:.1f} ({r.connections})",
                      f"{r.per_connection_kib:.1f}", ratio)
    console.print(table)
