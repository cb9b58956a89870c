"""The chart of a ``bench cost`` file: instructions per request, servers side by side."""

from __future__ import annotations

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
    return document if isinstance(document, dict) and document.get("kind") == COST_KIND \
        else None


def cost_chart(document: dict[str, Any]) -> Any:
    """Horizontal bars, one per counted (server, loop, parser, test), grouped by case."""
    rows = [row for row in document.get("rows", []) if row.get("per_request")]
    if not rows:
        raise BenchError("the cost file has no counted rows to chart")
    cases = list(dict.fromkeys((row["loop"], row["test"], row["pipeline"]) for row in rows))
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
            colours.append(_SERVER_COLOURS.get(row["server"], "#55A868"))
    fig = charts._figure(0.32 * len(labels) + 1.6)
    ax = fig.add_subplot()
    positions = list(range(len(labels)))[::-1]
    ax.barh(positions, values, color=colours, height=0.7)
    ax.set_yticks(positions, labels)
    for y, value in zip(positions, values, strict=True):
        ax.text(value, y, f" {value:,.1f}k", va="center", fontsize=8)
    ax.set_xlim(0, max(values) * 1.15)
    ax.set_xlabel("thousand CPU instructions per request (callgrind, user space), "
                  "lower is better")
    pipeline = {row["pipeline"] for row in rows}
    ax.set_title("instructions per request" +
                 (f", pipelined x{pipeline.pop()}" if pipeline != {1} and len(pipeline) == 1
                  else ""))
    ax.grid(axis="y", visible=False)
    servers = document.get("servers") or {}
    note = (f"Python {document.get('python', '?')} · "
            + " · ".join(f"{name} {servers.get(name)}" for name in ("asgibench", "uvicorn")
                         if servers.get(name))
            + f" · {document.get('created', '')[:10]} · canned = no parser, no ASGI (floor)")
    fig.text(0.01, 0.012, note, fontsize=7, color="0.35", va="bottom", ha="left")
    fig.tight_layout(rect=(0, 0.3 / fig.get_size_inches()[1], 1, 1))
    return fig


def write(document: dict[str, Any], stem: str, directory: str | Path,
          form: str) -> Path:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{charts.slug(stem)}.{form}"
    with charts.style():
        charts.save(cost_chart(document), path, form)
    return path
