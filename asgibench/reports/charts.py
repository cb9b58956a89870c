"""``bench chart``: matplotlib charts that read on their own (title, axes with units, the
environment in a footnote).

Per test type:

* ``<test>-ranking`` -- requests/s per configuration, best first, with the min..max range
  over repeats as error bars, client-bound bars hatched, the driver's ceiling as a line;
* ``<test>-concurrency`` -- requests/s against concurrency, one line per configuration
  (with the ceiling, dashed);
* ``<test>-latency`` -- latency percentile curves (p50, p75, p90, p99, p99.9 when recorded,
  max) at each configuration's ranked level, log scale;

and per server and test type with 2+ loop/parser cells, ``<test>-<server>-matrix``: the
loop x parser heat map, each cell's requests/s and its gain over the asyncio loop.

Only :class:`matplotlib.figure.Figure` is used (no pyplot, no global backend), and SVG
output is made deterministic (fixed hash salt, no date), so regenerated charts diff
cleanly. matplotlib is the ``charts`` extra: ``pip install 'asgibench[charts]'``.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from asgibench.errors import BenchError
from asgibench.harness.results import PERCENTILE_KEYS
from asgibench.reports import fmt
from asgibench.reports.model import REFERENCE_LOOP, Matrix, RankRow, Report

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMATS = ("png", "svg")
WIDTH_IN = 9.0
DPI = 110
_PARSER_COLOURS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860",
                   "#DA8BC3", "#8C8C8C")


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def require() -> None:
    """BenchError (one line) when matplotlib is missing."""
    if not available():
        raise BenchError("charts need matplotlib: pip install 'asgibench[charts]'")


@contextmanager
def style(inline: bool = False) -> Iterator[None]:
    import matplotlib

    params = {
        "svg.hashsalt": "asgibench",
        "svg.fonttype": "none" if inline else "path",
        "font.size": 9,
        "axes.titlesize": 11,
        "axes.titleweight": "bold",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "legend.fontsize": 8,
        "legend.frameon": False,
    }
    with matplotlib.rc_context(params):
        yield


def _figure(height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(WIDTH_IN, height), dpi=DPI)


def _finish(fig: Figure, report: Report, note: str = "") -> Figure:
    """Footnote (environment, plus ``note``) at the bottom; lay the axes out above it."""
    text = report.footnote()
    if note:
        text += "\n" + note
    lines = text.count("\n") + 1
    height = fig.get_size_inches()[1]
    foot = (0.16 * lines + 0.12) / height
    fig.text(0.01, 0.012, text, fontsize=7, color="0.35", va="bottom", ha="left",
             linespacing=1.4)
    fig.tight_layout(rect=(0, foot, 1, 1))
    return fig


def _label(row: RankRow, multi: bool) -> str:
    text = f"{row.server} · {row.loop}/{row.parser}"
    return f"{text} [{row.run}]" if multi and row.run else text


_PARSER_ORDER = ("httptools", "h11", "zttp", "rust")


def _parser_colours(report: Report) -> dict[str, str]:
    """A stable colour per parser (the same parser is the same colour in every chart)."""
    found = {row.parser for rows in report.rankings.values() for row in rows}
    parsers = [p for p in _PARSER_ORDER if p in found]
    parsers += sorted(found - set(parsers))
    return {p: _PARSER_COLOURS[i % len(_PARSER_COLOURS)] for i, p in enumerate(parsers)}


def _legend_right(ax: Any) -> None:
    """The legend outside the plot, on the right: it never hides a line."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)


def _load_text(report: Report, test: str) -> str:
    levels = report.levels.get(test, [])
    text = "concurrency " + ", ".join(str(c) for c in levels) if levels else ""
    depth = report.pipeline.get(test, 1)
    if depth > 1:
        text += f", HTTP pipelining x{depth}"
    return text


def _ceiling_for(report: Report, test: str, concurrency: int) -> float | None:
    values = [v for (run, t, c), v in report.ceiling_rps.items()
              if t == test and c == concurrency]
    return max(values) if values else None


def ranking_chart(report: Report, test: str) -> Figure:
    rows = report.rankings.get(test, [])
    colours = _parser_colours(report)
    fig = _figure(max(2.6, 1.6 + 0.38 * len(rows)))
    ax = fig.add_subplot()
    labels = [_label(r, report.multi_run) for r in rows]
    ys = list(range(len(rows)))[::-1]
    values = [r.requests_per_s for r in rows]
    errs = [[r.requests_per_s - r.min_rps for r in rows],
            [r.max_rps - r.requests_per_s for r in rows]]
    bars = ax.barh(ys, values, color=[colours.get(r.parser, "#4C72B0") for r in rows],
                   xerr=errs if any(r.repeats > 1 for r in rows) else None,
                   error_kw={"ecolor": "0.2", "capsize": 3, "elinewidth": 1}, height=0.65)
    for bar_, row in zip(bars, rows, strict=False):
        if row.client_bound:
            bar_.set_hatch("///")
            bar_.set_edgecolor("0.25")
    top = max([r.max_rps for r in rows], default=1.0)
    for y, row in zip(ys, rows, strict=True):
        text = f" {fmt.rps(row.requests_per_s)}  ({row.pct_of_best:.0f}%)"
        if row.repeats > 1:
            text += f"  ±{row.spread_pct:.0f}%"
        ax.text(row.max_rps, y, text, va="center", ha="left", fontsize=8)
    ceilings = {_ceiling_for(report, test, r.concurrency) for r in rows} - {None}
    note = f"{test}: {_load_text(report, test)}; each bar at the configuration's best level"
    if len(ceilings) == 1:
        ceiling = ceilings.pop()
        if ceiling is not None and ceiling <= top * 1.6:
            ax.axvline(ceiling, color="0.3", linestyle="--", linewidth=1)
            ax.text(ceiling, len(rows) - 0.45, " driver ceiling", fontsize=7, color="0.3",
                    va="bottom")
            top = max(top, ceiling)
        elif ceiling is not None:
            note += f"; driver ceiling {fmt.rps(ceiling)} req/s (off the scale)"
    ax.set_xlim(0, top * 1.28 if top > 0 else 1)
    ax.xaxis.set_major_formatter(_thousands())
    ax.set_yticks(ys, labels)
    ax.set_xlabel("requests per second (median over repeats; bars: min..max)")
    ax.set_title(f"{test}: requests/s per configuration, higher is better")
    ax.grid(axis="y", visible=False)
    if not rows:
        ax.text(0.5, 0.5, "no configuration was ranked", transform=ax.transAxes,
                ha="center", va="center")
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=c, label=p) for p, c in colours.items()
               if any(r.parser == p for r in rows)]
    if any(r.client_bound for r in rows):
        handles.append(Patch(facecolor="white", edgecolor="0.25", hatch="///",
                             label="client-bound"))
    if handles:
        ax.legend(handles=handles, loc="lower right", title="parser")
    return _finish(fig, report, note)


def concurrency_chart(report: Report, test: str) -> Figure:
    rows = report.rankings.get(test, [])
    fig = _figure(4.6)
    ax = fig.add_subplot()
    ticks: set[int] = set()
    for index, row in enumerate(rows):
        xs = [lv.concurrency for lv in row.levels]
        ys = [lv.median_rps for lv in row.levels]
        lows = [y - min(lv.rps) for y, lv in zip(ys, row.levels, strict=True)]
        highs = [max(lv.rps) - y for y, lv in zip(ys, row.levels, strict=True)]
        ticks.update(xs)
        style = "-" if index < 10 else "--"
        ax.errorbar(xs, ys, yerr=[lows, highs], marker="o", linestyle=style, capsize=3,
                    markersize=4, linewidth=1.4, label=_label(row, report.multi_run))
    ceiling = sorted((c, v) for (run, t, c), v in report.ceiling_rps.items() if t == test)
    top = max((max(lv.rps) for row in rows for lv in row.levels), default=0.0)
    note = "points: median over repeats; bars: min..max"
    if ceiling and rows and max(v for _, v in ceiling) > top * 2.5:
        note += "; driver ceiling " + ", ".join(f"c={c}: {fmt.rps(v)} req/s"
                                                for c, v in ceiling) + " (off the scale)"
        ceiling = []
    if ceiling:
        xs_c = sorted({c for c, _ in ceiling})
        ys_c = [max(v for c2, v in ceiling if c2 == c) for c in xs_c]
        ax.plot(xs_c, ys_c, linestyle=":", color="0.35", marker="x",
                label="driver ceiling (canned server)")
        ticks.update(xs_c)
    if len(ticks) > 1:
        ax.set_xscale("log", base=2)
    if ticks:
        ax.set_xticks(sorted(ticks), [str(t) for t in sorted(ticks)])
        ax.minorticks_off()
    depth = report.pipeline.get(test, 1)
    ax.set_xlabel("concurrent connections" + (f" (each pipelining {depth} requests)"
                                               if depth > 1 else ""))
    ax.set_ylabel("requests per second")
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(_thousands())
    ax.set_title(f"{test}: requests/s against concurrency")
    if rows or ceiling:
        _legend_right(ax)
    else:
        ax.text(0.5, 0.5, "no configuration was ranked", transform=ax.transAxes,
                ha="center", va="center")
    return _finish(fig, report, note)


def latency_chart(report: Report, test: str) -> Figure:
    rows = report.rankings.get(test, [])
    fig = _figure(4.6)
    ax = fig.add_subplot()
    keys = [name for name, _ in PERCENTILE_KEYS
            if any(r.chosen is not None and r.chosen.latencies(name) for r in rows)]
    positions = {name: i for i, name in enumerate(keys)}
    levels = {r.concurrency for r in rows}
    for row in rows:
        if row.chosen is None:
            continue
        pts = [(positions[k], row.chosen.median_latency(k)) for k in keys]
        pts = [(x, y) for x, y in pts if y is not None and y > 0]
        if not pts:
            continue
        label = _label(row, report.multi_run)
        if len(levels) > 1:
            label += f" (c={row.concurrency})"
        ax.plot([x for x, _ in pts], [y for _, y in pts], marker="o", markersize=4,
                linewidth=1.4, label=label)
    ax.set_xticks(range(len(keys)), keys)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(_ms_formatter())
    ax.set_xlabel("percentile of request latency")
    ax.set_ylabel("latency (ms, log scale)")
    where = f"c={levels.pop()}" if len(levels) == 1 else "each configuration's ranked level"
    ax.set_title(f"{test}: latency percentiles at {where}, lower is better")
    if rows:
        _legend_right(ax)
    else:
        ax.text(0.5, 0.5, "no configuration was ranked", transform=ax.transAxes,
                ha="center", va="center")
    note = "medians over repeats; measured by the load driver (not corrected for " \
           "coordinated omission)"
    return _finish(fig, report, note)


def matrix_chart(report: Report, matrix: Matrix) -> Figure:
    import numpy as np

    n_rows, n_cols = len(matrix.loops), len(matrix.parsers)
    fig = _figure(max(2.8, 1.9 + 0.55 * n_rows))
    ax = fig.add_subplot()
    data = np.full((n_rows, n_cols), np.nan)
    for i, loop in enumerate(matrix.loops):
        for j, parser in enumerate(matrix.parsers):
            rps = matrix.cells[(loop, parser)].rps
            if rps is not None:
                data[i, j] = rps
    masked = np.ma.masked_invalid(data)
    import matplotlib

    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#dddddd")
    image = ax.imshow(masked, cmap=cmap, aspect="auto", vmin=0)
    finite = data[np.isfinite(data)]
    high = float(finite.max()) if finite.size else 1.0
    for i, loop in enumerate(matrix.loops):
        for j, parser in enumerate(matrix.parsers):
            cell = matrix.cells[(loop, parser)]
            if cell.rps is None:
                ax.text(j, i, cell.status, ha="center", va="center", fontsize=8,
                        color="0.3")
                continue
            text = fmt.rps(cell.rps)
            if cell.gain_pct is not None and loop != REFERENCE_LOOP:
                text += f"\n{cell.gain_pct:+.0f}% vs {REFERENCE_LOOP}"
            if cell.best_in_column:
                text = "★ " + text
            if cell.client_bound:
                text += "\n(client-bound)"
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="black" if cell.rps > 0.6 * high else "white")
    ax.set_xticks(range(n_cols), matrix.parsers)
    ax.set_yticks(range(n_rows), matrix.loops)
    ax.set_xlabel("HTTP/1.1 parser")
    ax.set_ylabel("event loop")
    ax.grid(False)
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    colorbar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    colorbar.set_label("requests per second")
    colorbar.ax.yaxis.set_major_formatter(_thousands())
    run = f" [{matrix.run}]" if report.multi_run and matrix.run else ""
    ax.set_title(f"{matrix.test}: loop x parser on {matrix.server}{run} (req/s)", pad=28)
    note = f"★ = best loop for that parser; {_load_text(report, matrix.test)}"
    return _finish(fig, report, note)


def _thousands() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _pos: f"{value:,.0f}")


def _ms_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    def show(value: float, _pos: int) -> str:
        if value >= 1:
            return f"{value:g} ms"
        return f"{value:.2g} ms"

    return FuncFormatter(show)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "x"


def figures(report: Report) -> Iterator[tuple[str, Figure]]:
    """Every chart for ``report``: (file stem, figure)."""
    require()
    with style():
        yield from _figures(report)


def _figures(report: Report) -> Iterator[tuple[str, Figure]]:
    for test in report.tests:
        yield f"{slug(test)}-ranking", ranking_chart(report, test)
        yield f"{slug(test)}-concurrency", concurrency_chart(report, test)
        yield f"{slug(test)}-latency", latency_chart(report, test)
    for matrix in report.matrices:
        name = f"{slug(matrix.test)}-{slug(matrix.server)}"
        if report.multi_run and matrix.run:
            name += f"-{slug(matrix.run)}"
        yield f"{name}-matrix", matrix_chart(report, matrix)


def save(fig: Figure, path: str | Path | BinaryIO, form: str) -> None:
    """Save deterministically (no dates or software versions in the file)."""
    metadata: dict[str, Any] = {"Date": None} if form == "svg" else {"Software": None}
    fig.savefig(path, format=form, metadata=metadata)


def write(report: Report, directory: str | Path, form: str = "png") -> list[Path]:
    """Write every chart to ``directory`` (created if needed); return the paths."""
    if form not in FORMATS:
        raise BenchError(f"unknown chart format {form!r}; choose from: {', '.join(FORMATS)}")
    require()
    out = Path(directory)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BenchError(f"cannot create {str(out)!r}: {exc.strerror or exc}") from None
    written: list[Path] = []
    with style():
        for name, fig in _figures(report):
            path = out / f"{name}.{form}"
            try:
                save(fig, path, form)
            except OSError as exc:
                raise BenchError(f"cannot write {str(path)!r}: {exc.strerror or exc}") \
                    from None
            written.append(path)
    return written


def inline_svg(fig: Figure) -> str:
    """The figure as an ``<svg>`` element for embedding in HTML (text kept as text)."""
    buffer = io.StringIO()
    with style(inline=True):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


def png_data_uri(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")

