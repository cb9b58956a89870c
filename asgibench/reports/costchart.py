"""The chart of a ``bench cost`` file: instructions per request, servers side by side."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from asgibench.errors import BenchError
from asgibench.reports import charts

COST_KIND = "asgibench-cost"
_SERVER_COLOURS = {"asgibench": "#4C72B0", "uvicorn": "#DD8452", "canned": "#8C8C8C"}


def read_cost(path: str) -> dict[str, Any] | None:
    """The document when ``path`` is a ``bench cost`` file, else None."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, ValueError):
        return None  # the results reader reports what is wrong with it
    return document if isinstance(document, dict) and document.get("kind") == COST_KIND else None


def _server_colours(servers: list[str]) -> dict[str, str]:
    """The usual colours for asgibench, uvicorn and the canned floor; the palette's next
    unused colour for each other server (six of them before a colour repeats; each bar's
    label names its server anyway)."""
    spare = itertools.cycle([c for c in charts.PALETTE if c not in _SERVER_COLOURS.values()])
    return {s: _SERVER_COLOURS.get(s) or next(spare) for s in servers}


def cost_chart(document: dict[str, Any]) -> Any:
    """Horizontal bars, one per counted (server, loop, parser, test), grouped by case."""
    rows = [row for row in document.get("rows", []) if row.get("per_request")]
    if not rows:
        raise BenchError("the cost file has no counted rows to chart")
    cases = list(dict.fromkeys((row["loop"], row["test"], row["pipeline"]) for row in rows))
    palette = _server_colours(list(dict.fromkeys(row["server"] for row in rows)))
    labels: list[str] = []
    values: list[float] = []
    colours: list[str] = []
    for loop, test, pipeline in cases:
        for row in rows:
            if (row["loop"], row["test"], row["pipeline"]) != (loop, test, pipeline):
                continue
            parser = "" if row["server"] == "canned" else f"/{row['parser']}"
            labels.append(f"{row['server']} · {loop}{parser} · {test}")
            values.append(row["per_request"] / 1000)
            colours.append(palette[row["server"]])
    fig = charts._figure(1.0)
    ax = fig.add_subplot()
    positions = list(range(len(labels)))[::-1]
    ax.barh(positions, values, color=colours, height=0.7)
    ax.set_yticks(positions, labels)
    # half a bar of margin (the default 5% grows with the number of bars)
    ax.set_ylim(-0.7, len(labels) - 0.3)
    for y, value in zip(positions, values, strict=True):
        ax.text(value, y, f" {value:,.1f}k", va="center", fontsize=8)
    ax.set_xlim(0, max(values) * 1.15)
    ax.set_xlabel("thousand CPU instructions per request (callgrind, user space), lower is better")
    pipeline = {row["pipeline"] for row in rows}
    title = "instructions per request" + (
        f", pipelined x{pipeline.pop()}" if pipeline != {1} and len(pipeline) == 1 else ""
    )
    ax.grid(axis="y", visible=False)
    servers = document.get("servers") or {}
    note = (
        f"Python {document.get('python', '?')} · "
        + (f"asgibench's {document['core_build']} core · " if document.get("core_build") else "")
        + " · ".join(
            f"{name} {servers.get(name)}" for name in ("asgibench", "uvicorn") if servers.get(name)
        )
        + f" · {document.get('created', '')[:10]} · canned = no parser, no ASGI (floor)"
    )
    return charts._finish(fig, title, note, 0.9 + 0.3 * max(len(labels), 2))


def write(document: dict[str, Any], stem: str, directory: str | Path, form: str) -> Path:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{charts.slug(stem)}.{form}"
    with charts.style():
        charts.save(cost_chart(document), path, form)
    return path
