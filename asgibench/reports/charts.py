"""``bench chart``: matplotlib charts that read on their own (title, axes with units, the
environment in a footnote).

Per test type:

* ``<test>-ranking`` -- requests/s per configuration, best first, with the min..max range
  over repeats as error bars, client-bound bars hatched, the driver's ceiling as a line;
* ``<test>-concurrency`` -- requests/s against concurrency, one line per configuration
  (with the ceiling, dotted); only when some configuration was measured at two or more
  levels: otherwise it would be a column of dots, so :func:`write` skips it and says why;
* ``<test>-latency`` -- latency percentile curves (p50, p75, p90, p99, p99.9 when recorded,
  max) at each configuration's ranked level, log scale;

* ``<test>-latency-load`` -- open loop (``bench run --rate``): p50, p99 and p99.9 latency
  (from the scheduled time) against the achieved rate, one line per configuration; only
  when the run measured open-loop levels;

and per server and test type with 2+ loop/parser cells, ``<test>-<server>-matrix``: the
loop x parser heat map, each cell's requests/s and its gain over the asyncio loop.

Every configuration has one :class:`Style` (colour, marker, line style) in every chart of
a report, distinct from every other configuration's (:func:`styles`).

Layout: the title over the whole figure (never clipped by long tick labels), legends in
their own row under the plot, long footnotes wrapped, and the figure made as tall as plot +
legend + footnote, measured, so nothing overflows the figure whatever the number of
entries; then matplotlib's constrained layout, run once when the figure is made (in a
figure that fits, it has nothing to warn about, unlike ``tight_layout``, which gave up with
a warning when a tall legend did not fit) and kept, so that saving is deterministic.

Only :class:`matplotlib.figure.Figure` is used (no pyplot, no global backend), and SVG
output is made deterministic (fixed hash salt, no date), so regenerated charts diff
cleanly. matplotlib is the ``charts`` extra: ``pip install 'asgibench[charts]'``.
"""

from __future__ import annotations

import base64
import io
import math
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from asgibench.errors import BenchError
from asgibench.harness import testtypes
from asgibench.harness.results import PERCENTILE_KEYS
from asgibench.reports import fmt
from asgibench.reports.model import REFERENCE_LOOP, Matrix, RankRow, Report

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.legend import Legend

FORMATS = ("png", "svg")
WIDTH_IN = 9.0
DPI = 110
#: Qualitative colours: seaborn's "deep" palette without its grey, which is kept for the
#: driver ceiling so that no configuration can be mistaken for it.
PALETTE = (
    "#4C72B0",
    "#DD8452",
    "#55A868",
    "#C44E52",
    "#8172B3",
    "#937860",
    "#DA8BC3",
    "#CCB974",
    "#64B5CD",
)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
#: Only the four line styles that still tell apart at 1.4 pt.
LINESTYLES = ("-", "--", ":", "-.")
CEILING_COLOUR = "0.35"
FOOT_SIZE = 7
_PAD_IN = 0.08  # space between the figure's edge, the footnote and the legend
_PARSER_ORDER = ("httptools", "h11", "zttp", "rust")
#: What tells configurations apart, in the order that breaks ties when choosing which of
#: them the colour stands for.
_FACTORS = ("server", "parser", "loop", "run")

Config = tuple[str, str, str, str]  # (run, server, loop, parser)


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
        "figure.titlesize": 11,
        "figure.titleweight": "bold",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "legend.fontsize": 8,
        "legend.frameon": False,
    }
    with matplotlib.rc_context(params):
        yield


# -- one style per configuration -----------------------------------------------------------


@dataclass(frozen=True)
class Style:
    colour: str
    marker: str
    linestyle: str

    def line(self) -> dict[str, str]:
        """Keyword arguments for ``Axes.plot``."""
        return {"color": self.colour, "marker": self.marker, "linestyle": self.linestyle}


@dataclass
class Styles:
    """The style of every ranked configuration of a report.

    ``colour_by`` names what the colour stands for (``"server"``, ``"parser"``, ``"loop"``
    or ``"run"``, with ``colour_of`` its values' colours), or is ``""`` when the colours
    only tell configurations apart."""

    by_config: dict[Config, Style]
    colour_by: str
    colour_of: dict[str, str]
    marker_by: str = ""
    linestyle_by: str = ""

    def of(self, row: RankRow) -> Style:
        return self.by_config[config_of(row)]


def config_of(row: RankRow) -> Config:
    return (row.run, row.server, row.loop, row.parser)


def _factor(config: Config, name: str) -> str:
    return config[("run", "server", "loop", "parser").index(name)]


def _ordered_values(name: str, found: Sequence[str]) -> list[str]:
    """A factor's values in a fixed order, so that e.g. httptools has the same colour in
    every report that colours by parser (not the colour of its rank)."""
    present = list(dict.fromkeys(found))
    if name == "run":
        return present  # the rankings list runs (or groups of runs) in the order given
    if name == "parser":
        preferred = list(_PARSER_ORDER)
    elif name == "loop":
        preferred = [REFERENCE_LOOP]
    else:
        preferred = ["asgibench"]
    first = [value for value in preferred if value in present]
    return first + sorted(value for value in present if value not in first)


def styles(report: Report) -> Styles:
    """One distinct style per ranked configuration, the same in every chart of the report.

    When what varies between configurations is few enough, each style means something:
    the colour stands for the factor with the most values (e.g. the server), the marker
    for the next, the line style for the third (e.g. asgibench/uvloop/h11 is blue, square,
    dashed). Otherwise (more than 9 colours, 8 markers or 4 line styles would be needed,
    or four factors vary) colours and markers are dealt out in turn: 9 colours x 8
    markers give 72 distinct pairs, then the line style changes."""
    configs = list(
        dict.fromkeys(config_of(row) for rows in report.rankings.values() for row in rows)
    )
    values = {name: _ordered_values(name, [_factor(c, name) for c in configs]) for name in _FACTORS}
    varying = sorted(
        (name for name in _FACTORS if len(values[name]) > 1),
        key=lambda name: (-len(values[name]), _FACTORS.index(name)),
    )
    factored = _factored(configs, values, varying)
    if factored is not None:
        return factored
    pairs = math.lcm(len(PALETTE), len(MARKERS))
    by_config = {
        config: Style(
            PALETTE[i % len(PALETTE)],
            MARKERS[i % len(MARKERS)],
            LINESTYLES[(i // pairs) % len(LINESTYLES)],
        )
        for i, config in enumerate(configs)
    }
    return Styles(by_config, "", {})


def _factored(
    configs: list[Config], values: dict[str, list[str]], varying: list[str]
) -> Styles | None:
    """Styles where colour, marker and line style each stand for one factor, or None when
    the factors do not fit the palette, the markers and the line styles."""
    if not varying:  # one configuration (or none)
        return Styles({c: Style(PALETTE[0], MARKERS[0], LINESTYLES[0]) for c in configs}, "", {})
    if len(varying) > 3:
        return None
    colour_by, *rest = varying
    # With one factor left it gets both marker and line style; with none, the colour's
    # factor also gets the marker: two cues, so the chart survives greyscale printing and
    # colour blindness.
    marker_by = rest[0] if rest else colour_by
    linestyle_by = rest[-1] if rest else ""
    if len(rest) == 1 and len(values[linestyle_by]) > len(LINESTYLES):
        linestyle_by = ""
    if (
        len(values[colour_by]) > len(PALETTE)
        or (marker_by != colour_by and len(values[marker_by]) > len(MARKERS))
        or (linestyle_by and len(values[linestyle_by]) > len(LINESTYLES))
    ):
        return None

    def pick(options: Sequence[str], name: str, config: Config) -> str:
        if not name:
            return options[0]
        return options[values[name].index(_factor(config, name)) % len(options)]

    by_config = {
        c: Style(
            pick(PALETTE, colour_by, c),
            pick(MARKERS, marker_by, c),
            pick(LINESTYLES, linestyle_by, c),
        )
        for c in configs
    }
    if len(set(by_config.values())) != len(by_config):
        return None
    colour_of = {value: PALETTE[i] for i, value in enumerate(values[colour_by])}
    return Styles(by_config, colour_by, colour_of, marker_by, linestyle_by)


def _bar_colours(report: Report) -> tuple[str, dict[str, str]]:
    """What the ranking's bar colours stand for, and its values' colours.

    The bars are told apart by their labels, so their colour only has to mean something:
    the same as the lines' colour when :func:`styles` gives colours a meaning, else the
    first of server, parser, loop that varies and fits the palette (rather than the
    lines' colours, which then only tell configurations apart and would make a rainbow).
    ``("", {})`` when nothing varies: every bar is the first colour."""
    look = styles(report)
    if look.colour_by:
        return look.colour_by, look.colour_of
    configs = list(look.by_config)
    for name in _FACTORS:
        values = _ordered_values(name, [_factor(c, name) for c in configs])
        if 1 < len(values) <= len(PALETTE):
            return name, {value: PALETTE[i] for i, value in enumerate(values)}
    return "", {}


# -- layout ---------------------------------------------------------------------------------


def _figure(height: float) -> Figure:
    """A figure with constrained layout and an Agg canvas (text is measured with it before
    the figure is saved in any format)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _plot_axes(fig: Figure, legend: bool) -> tuple[Axes, Axes | None]:
    """The plot's axes and, when there is a legend, an empty row under it that the legend
    hangs from: constrained layout then makes room for the legend, however many entries
    it has, instead of letting it run off the figure."""
    if not legend:
        return fig.add_subplot(), None
    grid = fig.add_gridspec(2, 1, height_ratios=(1.0, 1e-6))
    ax = fig.add_subplot(grid[0])
    slot = fig.add_subplot(grid[1])
    slot.set_axis_off()
    return ax, slot


def _text_width(fig: Figure, text: str, size: float, weight: str = "normal") -> float:
    """Width of ``text`` in pixels, as the figure will draw it."""
    from matplotlib.font_manager import FontProperties

    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    width, _, _ = renderer.get_text_width_height_descent(
        text, FontProperties(size=size, weight=weight), ismath=False
    )
    return float(width)


def _usable_width(fig: Figure) -> float:
    return fig.bbox.width - 2 * _PAD_IN * fig.dpi


def _wrap(fig: Figure, text: str, size: float, weight: str = "normal") -> str:
    """``text`` with its lines broken at spaces so that none is wider than the figure."""
    limit = _usable_width(fig)
    out: list[str] = []
    for line in text.split("\n"):
        current = ""
        for word in line.split(" "):
            trial = f"{current} {word}" if current else word
            if current and _text_width(fig, trial, size, weight) > limit:
                out.append(current)
                current = word
            else:
                current = trial
        out.append(current)
    return "\n".join(out)


def _legend(
    fig: Figure, slot: Axes, handles: list[Any], labels: list[str], title: str | None = None
) -> Legend:
    """A legend under the plot, in as many columns as the widest label allows."""
    import matplotlib

    size = float(matplotlib.rcParams["legend.fontsize"])
    em = size * fig.dpi / 72
    handle_em, pad_em, gap_em = 3.0, 0.8, 2.0
    widest = max((_text_width(fig, label, size) for label in labels), default=0.0)
    column = widest + (handle_em + pad_em + gap_em) * em
    ncols = max(1, min(len(labels), int((_usable_width(fig) + gap_em * em) // column)))
    rows = math.ceil(len(labels) / ncols)
    ncols = math.ceil(len(labels) / rows)  # balanced columns: 5 + 5, not 8 + 2
    return slot.legend(
        handles,
        labels,
        loc="upper center",
        bbox_to_anchor=(0.5, 1.0),
        borderaxespad=0.0,
        ncols=ncols,
        title=title,
        handlelength=handle_em,
        handletextpad=pad_em,
        columnspacing=gap_em,
    )


def _finish(
    fig: Figure, title: str, footnote: str, plot_height: float, legend: Legend | None = None
) -> Figure:
    """Title over the figure, footnote at the bottom, and the figure made tall enough for
    ``plot_height`` inches of plot plus the legend and the footnote, as measured."""
    import matplotlib

    size = float(matplotlib.rcParams["figure.titlesize"])
    weight = str(matplotlib.rcParams["figure.titleweight"])
    fig.suptitle(_wrap(fig, title, size, weight))
    # The footnote is placed in inches from the bottom-left corner, so it stays put when
    # the figure's height is set below; constrained layout ignores figure texts, so the
    # layout's rectangle starts above it.
    foot = fig.text(
        _PAD_IN,
        _PAD_IN,
        _wrap(fig, footnote, FOOT_SIZE),
        transform=fig.dpi_scale_trans,
        fontsize=FOOT_SIZE,
        color="0.35",
        va="bottom",
        ha="left",
        linespacing=1.4,
    )
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    foot_in = foot.get_window_extent(renderer).height / fig.dpi + 2 * _PAD_IN
    legend_in = legend.get_window_extent(renderer).height / fig.dpi + _PAD_IN if legend else 0.0
    height = plot_height + legend_in + foot_in
    fig.set_size_inches(WIDTH_IN, height)
    engine = fig.get_layout_engine()
    engine.set(rect=(0.0, foot_in / height, 1.0, 1.0 - foot_in / height))
    # Lay out once, now, and keep it: constrained layout's solver gives positions that
    # differ in the last bits from one call to the next (with memory layout), and the SVG
    # backend names clip paths by a hash of the full-precision clip box, so a layout
    # redone on every save would make regenerated SVGs differ when the data does not.
    engine.execute(fig)
    for ax in fig.axes:
        ax.set_position([round(value, 6) for value in ax.get_position().bounds])
    fig.set_layout_engine("none")
    return fig


def _line_plot_height(lines: int) -> float:
    """Inches for a line chart's plot: taller with many lines, so they stay apart."""
    return 3.6 + 0.03 * max(0, lines - 10)


def _no_data(ax: Axes, text: str = "no configuration was ranked") -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center")


def _label(row: RankRow, multi: bool) -> str:
    text = f"{row.server} · {row.loop}/{row.parser}"
    return f"{text} [{row.run}]" if multi and row.run else text


def _load_text(report: Report, test: str) -> str:
    return report.load_text(test, ", HTTP pipelining x")


def _footnote(report: Report, note: str) -> str:
    return report.footnote() + ("\n" + note if note else "")


def _ceiling_for(report: Report, test: str, concurrency: int) -> float | None:
    values = [v for (_run, t, c), v in report.ceiling_rps.items() if t == test and c == concurrency]
    return max(values) if values else None


# -- the charts -----------------------------------------------------------------------------


def ranking_chart(report: Report, test: str) -> Figure:
    from matplotlib.patches import Patch

    rows = report.rankings.get(test, [])
    colour_by, colour_of = _bar_colours(report)
    handles: list[Any] = []
    if colour_by:
        shown = {_factor(config_of(r), colour_by) for r in rows}
        handles = [Patch(facecolor=c, label=v) for v, c in colour_of.items() if v in shown]
    if any(r.client_bound for r in rows):
        handles.append(
            Patch(facecolor="white", edgecolor="0.25", hatch="///", label="client-bound")
        )
    fig = _figure(1.0)
    ax, slot = _plot_axes(fig, bool(handles))
    labels = [_label(r, report.multi_run) for r in rows]
    ys = list(range(len(rows)))[::-1]
    errs = [
        [r.requests_per_s - r.min_rps for r in rows],
        [r.max_rps - r.requests_per_s for r in rows],
    ]
    bars = ax.barh(
        ys,
        [r.requests_per_s for r in rows],
        color=[
            colour_of[_factor(config_of(r), colour_by)] if colour_by else PALETTE[0] for r in rows
        ],
        xerr=errs if any(r.repeats > 1 for r in rows) else None,
        error_kw={"ecolor": "0.2", "capsize": 3, "elinewidth": 1},
        height=0.65,
    )
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
    ceiling_drawn = False
    if len(ceilings) == 1:
        ceiling = ceilings.pop()
        if ceiling is not None and ceiling <= top * 1.6:
            ax.axvline(ceiling, color=CEILING_COLOUR, linestyle="--", linewidth=1)
            ax.text(ceiling, len(rows) - 0.45, " driver ceiling", fontsize=7, color="0.3")
            ceiling_drawn = True
            top = max(top, ceiling)
        elif ceiling is not None:
            note += f"; driver ceiling {fmt.rps(ceiling)} req/s (off the scale)"
    # room on the right for the value labels
    ax.set_xlim(0, top * 1.28 if top > 0 else 1)
    ax.xaxis.set_major_formatter(_thousands())
    ax.set_yticks(ys, labels)
    if rows:  # half a bar of margin (the default 5% is one and a half bars with 30 of them)
        ax.set_ylim(-0.7, len(rows) - 0.3 + (0.5 if ceiling_drawn else 0.0))
    ax.set_xlabel("requests per second (median over repeats; bars: min..max)")
    ax.grid(axis="y", visible=False)
    if not rows:
        _no_data(ax)
        ax.set_xticks([])  # a scale of nothing: 0..1 req/s would read as a measurement
    legend = None
    if slot is not None:
        title = colour_by or None
        legend = _legend(fig, slot, handles, [h.get_label() for h in handles], title)
    height = 1.1 + 0.34 * max(len(rows), 2)
    title = f"{test}: requests/s per configuration, higher is better"
    return _finish(fig, title, _footnote(report, note), height, legend)


def concurrency_skip(report: Report, test: str) -> str | None:
    """Why ``test`` gets no level chart, or None when it gets one: a line needs two
    levels, and with one a "requests/s against concurrency" (or against queries per
    request) chart is a column of dots that says less than the ranking."""
    rows = report.rankings.get(test, [])
    if not rows:
        return "no configuration was ranked"
    kind = testtypes.level_kind(test)
    levels = sorted({level.value for row in rows for level in row.levels})
    if len(levels) < 2:
        return f"one {kind} level ({', '.join(map(str, levels)) or '-'}); a line needs two"
    if not any(len(row.levels) > 1 for row in rows):
        return (
            f"each configuration was measured at one {kind} level only (levels "
            f"{', '.join(map(str, levels))} across configurations); a line needs two"
        )
    return None


def concurrency_chart(report: Report, test: str) -> Figure:
    """requests/s against concurrency; when :func:`concurrency_skip` gives a reason (which
    :func:`write` skips the chart for), a short figure that states it."""
    queries = testtypes.level_kind(test) == "queries"
    title = f"{test}: requests/s against " + ("queries per request" if queries else
                                               "concurrency")
    reason = concurrency_skip(report, test)
    if reason is not None:
        fig = _figure(1.0)
        ax = fig.add_subplot()
        ax.set_axis_off()
        _no_data(ax, f"not drawn: {reason}")
        return _finish(fig, title, _footnote(report, ""), 0.9)
    rows = report.rankings.get(test, [])
    look = styles(report)
    fig = _figure(1.0)
    ax, slot = _plot_axes(fig, True)
    ticks: set[int] = set()
    handles: list[Any] = []
    for row in rows:
        xs = [lv.value for lv in row.levels]
        ys = [lv.median_rps for lv in row.levels]
        lows = [y - min(lv.rps) for y, lv in zip(ys, row.levels, strict=True)]
        highs = [max(lv.rps) - y for y, lv in zip(ys, row.levels, strict=True)]
        ticks.update(xs)
        line_style = look.of(row)
        (line,) = ax.plot(
            xs,
            ys,
            markersize=5,
            linewidth=1.4,
            label=_label(row, report.multi_run),
            **line_style.line(),
        )
        ax.errorbar(
            xs,
            ys,
            yerr=[lows, highs],
            fmt="none",
            ecolor=line_style.colour,
            capsize=3,
            elinewidth=1,
        )
        handles.append(line)
    ceiling = sorted((c, v) for (_run, t, c), v in report.ceiling_rps.items() if t == test)
    top = max((max(lv.rps) for row in rows for lv in row.levels), default=0.0)
    note = "points: median over repeats; bars: min..max"
    if ceiling and max(v for _, v in ceiling) > top * 2.5:
        shown = dict.fromkeys(f"c={c}: {fmt.rps(v)} req/s" for c, v in ceiling)
        note += "; driver ceiling " + ", ".join(shown) + " (off the scale)"
        ceiling = []
    if ceiling:
        xs_c = sorted({c for c, _ in ceiling})
        ys_c = [max(v for c2, v in ceiling if c2 == c) for c in xs_c]
        (line,) = ax.plot(
            xs_c,
            ys_c,
            linestyle=":",
            color=CEILING_COLOUR,
            marker="x",
            label="driver ceiling (canned server)",
        )
        handles.append(line)
        ticks.update(xs_c)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(ticks), [str(t) for t in sorted(ticks)])
    ax.minorticks_off()
    depth = report.pipeline.get(test, 1)
    connections = {lv.concurrency for row in rows for lv in row.levels}
    ax.set_xlabel(
        f"rows per request (queries=N), at {', '.join(map(str, sorted(connections)))} "
        "connections" if queries else
        "concurrent connections" + (f" (each pipelining {depth} requests)" if depth > 1 else "")
    )
    ax.set_ylabel("requests per second")
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(_thousands())
    assert slot is not None
    legend = _legend(fig, slot, handles, [h.get_label() for h in handles])
    return _finish(fig, title, _footnote(report, note), _line_plot_height(len(handles)), legend)


def latency_chart(report: Report, test: str) -> Figure:
    rows = report.rankings.get(test, [])
    look = styles(report)
    fig = _figure(1.0)
    ax, slot = _plot_axes(fig, bool(rows))
    keys = [
        name
        for name, _ in PERCENTILE_KEYS
        if any(r.chosen is not None and r.chosen.latencies(name) for r in rows)
    ]
    positions = {name: i for i, name in enumerate(keys)}
    levels = {r.chosen.label for r in rows if r.chosen is not None}
    handles: list[Any] = []
    for row in rows:
        if row.chosen is None:
            continue
        pts = [(positions[k], row.chosen.median_latency(k)) for k in keys]
        pts = [(x, y) for x, y in pts if y is not None and y > 0]
        if not pts:
            continue
        label = _label(row, report.multi_run)
        if len(levels) > 1:
            label += f" ({row.chosen.label})"
        (line,) = ax.plot(
            [x for x, _ in pts],
            [y for _, y in pts],
            markersize=5,
            linewidth=1.4,
            label=label,
            **look.of(row).line(),
        )
        handles.append(line)
    ax.set_xticks(range(len(keys)), keys)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(_ms_formatter())
    ax.yaxis.set_minor_formatter(_ms_formatter(minor=True))
    ax.set_xlabel("percentile of request latency")
    ax.set_ylabel("latency (ms, log scale)")
    where = f"c={levels.pop()}" if len(levels) == 1 else "each configuration's ranked level"
    legend = None
    if slot is not None and handles:
        legend = _legend(fig, slot, handles, [h.get_label() for h in handles])
    if not rows:
        _no_data(ax)
    note = (
        "medians over repeats; measured by the load driver (not corrected for coordinated omission)"
    )
    title = f"{test}: latency percentiles at {where}, lower is better"
    return _finish(fig, title, _footnote(report, note), _line_plot_height(len(handles)), legend)


#: The open-loop percentiles drawn, each with its line style.
LOAD_PERCENTILES = (("p50", "-"), ("p99", "--"), ("p99.9", ":"))


def latency_load_chart(report: Report, test: str) -> Figure:
    """Open loop: latency percentiles against the achieved rate, one colour per
    configuration, one line style per percentile; a flagged point (not sent on schedule
    in some round) is drawn hollow."""
    from matplotlib.lines import Line2D

    rows = [row for row in report.open_loop if row.test == test]
    configs: dict[str, list[Any]] = {}
    for row in rows:
        name = f"{row.server} · {row.loop}/{row.parser}"
        if report.multi_run and row.run:
            name += f" [{row.run}]"
        configs.setdefault(name, []).append(row)
    fig = _figure(1.0)
    ax, slot = _plot_axes(fig, bool(rows))
    handles: list[Any] = []
    flagged = False
    for index, (name, points) in enumerate(configs.items()):
        colour = PALETTE[index % len(PALETTE)]
        marker = MARKERS[index % len(MARKERS)]
        points = sorted(points, key=lambda r: r.achieved_rps)
        for key, linestyle in LOAD_PERCENTILES:
            pts = [(r.achieved_rps, r.latency_ms.get(key), bool(r.flags)) for r in points]
            pts = [(x, y, f) for x, y, f in pts if y]
            if not pts:
                continue
            ax.plot([x for x, _, _ in pts], [y for _, y, _ in pts], color=colour,
                    linestyle=linestyle, linewidth=1.4)
            for x, y, bad in pts:
                flagged = flagged or bad
                ax.plot([x], [y], marker=marker, markersize=5, color=colour,
                        markerfacecolor="white" if bad else colour, linestyle="none")
        handles.append(Line2D([], [], color=colour, marker=marker, label=name))
    handles += [Line2D([], [], color="0.3", linestyle=style, label=key)
                for key, style in LOAD_PERCENTILES]
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(_ms_formatter())
    ax.yaxis.set_minor_formatter(_ms_formatter(minor=True))
    ax.xaxis.set_major_formatter(_thousands())
    ax.set_xlabel("achieved requests/s (open loop)")
    ax.set_ylabel("latency (ms, log scale)")  # from the scheduled time: the note says
    legend = None
    if slot is not None and handles:
        legend = _legend(fig, slot, handles, [h.get_label() for h in handles])
    if not rows:
        _no_data(ax, "no open-loop level was measured")
    arrival = "; ".join(sorted({f"rates {', '.join(dict.fromkeys(r.label for r in rows))}"}))
    note = ("open loop: requests sent on a schedule that does not wait for responses, each "
            "latency from its scheduled time (no coordinated omission); percentiles over "
            f"every round's requests (HDR histograms merged); {arrival}"
            + ("; hollow points: not sent on schedule in a round (over 1% late or dropped)"
               if flagged else ""))
    title = f"{test}: latency against load (p50, p99, p99.9), lower is better"
    return _finish(fig, title, _footnote(report, note), _line_plot_height(len(handles)), legend)


def matrix_chart(report: Report, matrix: Matrix) -> Figure:
    import matplotlib
    import numpy as np

    n_rows, n_cols = len(matrix.loops), len(matrix.parsers)
    fig = _figure(1.0)
    ax = fig.add_subplot()
    data = np.full((n_rows, n_cols), np.nan)
    for i, loop in enumerate(matrix.loops):
        for j, parser in enumerate(matrix.parsers):
            rps = matrix.cells[(loop, parser)].rps
            if rps is not None:
                data[i, j] = rps
    masked = np.ma.masked_invalid(data)
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#dddddd")
    image = ax.imshow(masked, cmap=cmap, aspect="auto", vmin=0)
    finite = data[np.isfinite(data)]
    high = float(finite.max()) if finite.size else 1.0
    for i, loop in enumerate(matrix.loops):
        for j, parser in enumerate(matrix.parsers):
            cell = matrix.cells[(loop, parser)]
            if cell.rps is None:
                ax.text(j, i, cell.status, ha="center", va="center", fontsize=8, color="0.3")
                continue
            text = fmt.rps(cell.rps)
            if cell.gain_pct is not None and loop != REFERENCE_LOOP:
                text += f"\n{cell.gain_pct:+.0f}% vs {REFERENCE_LOOP}"
            if cell.best_in_column:
                text = "★ " + text
            if cell.client_bound:
                text += "\n(client-bound)"
            # dark text on viridis' light (high) end, white on its dark end
            colour = "black" if cell.rps > 0.6 * high else "white"
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color=colour)
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
    title = f"{matrix.test}: loop x parser on {matrix.server}{run} (req/s)"
    note = f"★ = best loop for that parser; {_load_text(report, matrix.test)}"
    return _finish(fig, title, _footnote(report, note), max(2.0, 1.1 + 0.6 * n_rows))


def _thousands() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _pos: f"{value:,.0f}")


def _ms_formatter(minor: bool = False) -> Any:
    """Log-axis labels in ms ("300 ms", not "3 x 10^2"), on the ticks matplotlib's own log
    formatter would label: minor ticks too when the axis spans less than a decade or two,
    where without them the axis may have no label at all."""
    from matplotlib.ticker import LogFormatterSciNotation

    class Milliseconds(LogFormatterSciNotation):
        def __call__(self, value: float, pos: int | None = None) -> str:
            if not super().__call__(value, pos):
                return ""
            return f"{value:g} ms" if value >= 1 else f"{value:.2g} ms"

    return Milliseconds(labelOnlyBase=not minor)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "x"


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr)  # sys.stderr looked up now: test runners replace it


def figures(
    report: Report, notice: Callable[[str], None] = _to_stderr
) -> Iterator[tuple[str, Figure]]:
    """Every chart for ``report``: (file stem, figure). A chart that is skipped is one
    line to ``notice`` (by default stderr), e.g. ``json-concurrency skipped: ...``."""
    require()
    with style():
        yield from _figures(report, notice)


def _figures(report: Report, notice: Callable[[str], None]) -> Iterator[tuple[str, Figure]]:
    for test in report.tests:
        yield f"{slug(test)}-ranking", ranking_chart(report, test)
        reason = concurrency_skip(report, test)
        if reason is None:
            yield f"{slug(test)}-concurrency", concurrency_chart(report, test)
        else:
            notice(f"{slug(test)}-concurrency skipped: {reason}")
        yield f"{slug(test)}-latency", latency_chart(report, test)
        if any(row.test == test for row in report.open_loop):
            yield f"{slug(test)}-latency-load", latency_load_chart(report, test)
    for matrix in report.matrices:
        name = f"{slug(matrix.test)}-{slug(matrix.server)}"
        if report.multi_run and matrix.run:
            name += f"-{slug(matrix.run)}"
        yield f"{name}-matrix", matrix_chart(report, matrix)


def save(fig: Figure, path: str | Path | BinaryIO, form: str) -> None:
    """Save deterministically (no dates or software versions in the file)."""
    metadata: dict[str, Any] = {"Date": None} if form == "svg" else {"Software": None}
    fig.savefig(path, format=form, metadata=metadata)


def write(
    report: Report,
    directory: str | Path,
    form: str = "png",
    notice: Callable[[str], None] = _to_stderr,
) -> list[Path]:
    """Write every chart to ``directory`` (created if needed); return the paths. Each
    chart that is not drawn is one line to ``notice`` (by default stderr) saying why."""
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
        for name, fig in _figures(report, notice):
            path = out / f"{name}.{form}"
            try:
                save(fig, path, form)
            except OSError as exc:
                raise BenchError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
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
