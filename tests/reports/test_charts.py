"""``bench chart`` with 1, 5 and 30 configurations (and two merged runs of 30): every chart
kind renders without a warning, keeps its title, axis labels, legend and footnote inside
the figure and apart from each other, and gives every configuration its own style; a test
type measured at one concurrency level gets no concurrency chart, and ``bench chart``
says why on stderr."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import Result
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from asgibench.reports import charts, costchart, model

from . import chartdocs, reportdocs

SIZES = chartdocs.SIZES
#: Each case: a name and how to build its report.
CASES: dict[str, Callable[[], model.Report]] = {
    **{f"{n} configurations": (lambda n=n: chartdocs.report(n)) for n in SIZES},
    "2 merged runs of 30": lambda: chartdocs.merged_report(30),
}


def every_chart(report: model.Report, size: int) -> Iterator[tuple[str, Figure]]:
    """What ``bench chart`` draws, plus what only the HTML report draws (the short "not
    drawn" concurrency figure of a one-level test type) and a cost chart of ``size``
    rows."""
    skipped: list[str] = []
    yield from charts.figures(report, notice=skipped.append)
    with charts.style():
        for test in report.tests:
            if charts.concurrency_skip(report, test) is not None:
                yield f"{test}-concurrency (HTML)", charts.concurrency_chart(report, test)
        yield "cost", costchart.cost_chart(chartdocs.cost_document(size))


def _size(case: str) -> int:
    return int(case.split()[-1] if "merged" in case else case.split()[0])


# -- checks on a drawn figure (each can fail: see the self-checks at the end) ---------------


def _drawn(fig: Figure) -> Any:
    """Draw ``fig`` as a PNG would be, and return the renderer."""
    if not hasattr(fig.canvas, "get_renderer"):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _inside(box: Bbox, outer: Bbox, slack: float = 1.0) -> bool:
    return (
        box.x0 >= outer.x0 - slack
        and box.y0 >= outer.y0 - slack
        and box.x1 <= outer.x1 + slack
        and box.y1 <= outer.y1 + slack
    )


def _overlap(a: Bbox, b: Bbox, slack: float = 0.5) -> bool:
    return (
        a.x0 < b.x1 - slack and b.x0 < a.x1 - slack and a.y0 < b.y1 - slack and b.y0 < a.y1 - slack
    )


def _tick_labels(fig: Figure) -> set[int]:
    return {
        id(label)
        for ax in fig.axes
        for axis in (ax.xaxis, ax.yaxis)
        for tick in [*axis.majorTicks, *axis.minorTicks]
        for label in (tick.label1, tick.label2)
    }


def _texts(fig: Figure) -> list[Text]:
    """Every visible, non-empty text but tick labels (matplotlib keeps labels of ticks it
    does not draw, off the axes): the title, axis labels, legend entries and title, value
    labels, the footnote."""
    ticks = _tick_labels(fig)
    return [
        t
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and id(t) not in ticks
    ]


def outside(fig: Figure, renderer: Any = None) -> list[str]:
    """The texts, axes (with their drawn tick labels) and legends that are (partly)
    outside the figure (drawn with ``renderer``, else drawn now)."""
    renderer = renderer or _drawn(fig)
    bad = [
        f"text {t.get_text()!r}"
        for t in _texts(fig)
        if not _inside(t.get_window_extent(renderer), fig.bbox)
    ]
    for index, ax in enumerate(fig.axes):
        for axis in (ax.xaxis, ax.yaxis) if ax.axison else ():
            box = axis.get_tightbbox(renderer)
            if box is not None and not _inside(box, fig.bbox):
                bad.append(f"axes {index} ({_what(ax)}): {axis.axis_name} tick labels")
        legend = ax.get_legend()
        if legend is not None and not _inside(legend.get_window_extent(renderer), fig.bbox):
            bad.append(f"legend of {len(legend.get_texts())} entries")
    return bad


def overlapping(fig: Figure, renderer: Any = None) -> list[str]:
    """Pairs of the figure's parts that overlap: each axes with everything it draws
    (ticks, labels, legend), the title, the footnote."""
    renderer = renderer or _drawn(fig)
    parts: list[tuple[str, Bbox]] = []
    for index, ax in enumerate(fig.axes):
        box = ax.get_tightbbox(renderer)
        if box is not None and box.width > 0 and box.height > 0:
            parts.append((f"axes {index} ({_what(ax)})", box))
    title = fig.get_suptitle()
    for text in fig.texts:  # the title and the footnote
        what = "title" if title and text.get_text() == title else "footnote"
        parts.append((f"{what} {text.get_text()[:30]!r}", text.get_window_extent(renderer)))
    return [
        f"{a} / {b}"
        for i, (a, box_a) in enumerate(parts)
        for b, box_b in parts[i + 1 :]
        if _overlap(box_a, box_b)
    ]


def _what(ax: Axes) -> str:
    if ax.get_legend() is not None:
        return "legend"
    return ax.get_title() or ax.get_xlabel() or ax.get_ylabel() or "?"


def line_styles(fig: Figure) -> dict[str, tuple[str, str, str]]:
    """label -> (colour, marker, line style) of each configuration's line (a plain line or
    an error-bar plot's data line)."""
    from matplotlib.container import ErrorbarContainer

    out = {}
    for ax in fig.axes:
        labelled = [(str(line.get_label()), line) for line in ax.get_lines()]
        labelled += [
            (str(c.get_label()), c.lines[0])
            for c in ax.containers
            if isinstance(c, ErrorbarContainer) and c.lines[0] is not None
        ]
        for label, line in labelled:
            if label.startswith(("_", "driver ceiling")):
                continue
            out[label] = (
                to_hex(line.get_color()),
                str(line.get_marker()),
                str(line.get_linestyle()),
            )
    return out


# -- the tests ------------------------------------------------------------------------------


@dataclass
class Drawn:
    """Every chart of a case, drawn once (as for a PNG) with warnings turned into errors."""

    report: model.Report
    charts: list[tuple[str, Figure, Any]] = field(default_factory=list)  # name, fig, renderer
    warnings: list[str] = field(default_factory=list)


@pytest.fixture(scope="module", params=list(CASES))
def drawn(request: pytest.FixtureRequest) -> Drawn:
    # drawing is most of the cost (a second or two per chart), so each case is drawn once
    # for the three tests that look at it
    case = request.param
    out = Drawn(CASES[case]())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "Tight layout not applied" raises
        try:
            for name, fig in every_chart(out.report, _size(case)):
                out.charts.append((name, fig, _drawn(fig)))
        except Warning as warning:
            out.warnings.append(f"after {len(out.charts)} charts: {warning!r}")
    return out


def test_charts_render_without_a_warning(drawn: Drawn) -> None:
    assert not drawn.warnings
    assert len(drawn.charts) >= 3 * len(drawn.report.tests)


def test_everything_lies_inside_the_figure_and_apart(drawn: Drawn) -> None:
    problems = []
    for name, fig, renderer in drawn.charts:
        problems += [f"{name}: {what} is outside the figure" for what in outside(fig, renderer)]
        problems += [f"{name}: {pair} overlap" for pair in overlapping(fig, renderer)]
    assert not problems, "\n".join(problems)


def test_every_configuration_has_its_own_style(drawn: Drawn) -> None:
    ranked = {test: len(rows) for test, rows in drawn.report.rankings.items()}
    seen: dict[str, tuple[str, str, str]] = {}
    lines = [
        (name, fig) for name, fig, _ in drawn.charts if name.endswith(("-latency", "-concurrency"))
    ]
    assert len(lines) >= len(drawn.report.tests)
    for name, fig in lines:
        styles = line_styles(fig)
        assert len(styles) == ranked[name.rsplit("-", 1)[0]], name
        assert len(set(styles.values())) == len(styles), f"{name}: two lines share a style"
        for label, look in styles.items():
            label = label.split(" (c=")[0]
            # the same configuration looks the same in every chart
            assert seen.setdefault(label, look) == look, f"{name}: {label}"


def test_layout_is_made_once(drawn: Drawn) -> None:
    """Each chart is laid out when it is made and keeps that layout (rounded) when it is
    drawn or saved again, as no layout engine is left to redo it: constrained layout
    redone on every save moves axes in the last bits, which renames the SVG's clip paths,
    so regenerated SVGs would differ."""
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    for name, fig, _ in drawn.charts:
        assert not isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine), name


def test_styles_stay_distinct_past_the_palette() -> None:
    """Many configurations in four varying factors: colours and markers dealt in turn,
    distinct for all of them (here 192)."""
    rows = [
        SimpleNamespace(run=run, server=server, loop=loop, parser=parser)
        for run in "ABCD"
        for server in ("asgibench", "uvicorn", "hypercorn", "granian")
        for loop in ("asyncio", "uvloop", "rloop", "winloop")
        for parser in ("httptools", "h11", "zttp")
    ]
    look = charts.styles(SimpleNamespace(rankings={"json": rows}))  # type: ignore[arg-type]
    assert look.colour_by == ""
    assert len(set(look.by_config.values())) == len(rows) == 192


def test_styles_mean_something_when_they_can() -> None:
    """One server, two loops, three parsers (the reference run): colour is the parser,
    marker and line style the loop, and a parser keeps its colour in every report."""
    rows = [
        SimpleNamespace(run="", server="asgibench", loop=loop, parser=parser)
        for loop in ("uvloop", "asyncio")
        for parser in ("zttp", "h11", "httptools")
    ]
    look = charts.styles(SimpleNamespace(rankings={"json": rows}))  # type: ignore[arg-type]
    assert (look.colour_by, look.marker_by, look.linestyle_by) == ("parser", "loop", "loop")
    assert look.colour_of == {
        "httptools": charts.PALETTE[0],
        "h11": charts.PALETTE[1],
        "zttp": charts.PALETTE[2],
    }
    assert len(set(look.by_config.values())) == 6


def test_one_concurrency_level_gets_no_concurrency_chart(
    tmp_path: Path, bench: Callable[..., Result]
) -> None:
    results = reportdocs.write(chartdocs.document(5), tmp_path / "run.json")
    result = bench("chart", results, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "plaintext-concurrency skipped: one concurrency level (256); a line needs two\n"
    )
    written = sorted(Path(line).name for line in result.stdout.split())
    assert "plaintext-concurrency.png" not in written
    assert "json-concurrency.png" in written  # four levels: drawn
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == written


def test_no_configuration_with_two_levels_gets_no_concurrency_chart() -> None:
    """Merged runs at different levels, each configuration at one of them: still a column
    of dots per level, so no chart."""
    first = chartdocs.document(3, levels={"json": [64]})
    second = chartdocs.document(3, levels={"json": [256]})
    second["environment"]["cpu"]["model"] = "another machine"
    from asgibench.harness import results

    report = model.build(
        [results.Run.from_dict(first, label="a"), results.Run.from_dict(second, label="b")]
    )
    reason = charts.concurrency_skip(report, "json")
    assert reason is not None and "one concurrency level only" in reason
    assert "64, 256" in reason


# -- the checks can fail --------------------------------------------------------------------


def test_checks_catch_a_clipped_title_an_overflowing_legend_and_shared_styles() -> None:
    fig = Figure(figsize=(4, 2), dpi=100)
    ax = fig.add_subplot()
    for _ in range(2):
        ax.plot([1, 2], [1, 2], color="C0", marker="o", label="same style")
    ax.plot([1, 2], [2, 1], color="C0", marker="o", label="also the same")
    fig.suptitle("json: requests/s per configuration, higher is better", x=0.7)
    ax.legend([f"entry {i}" for i in range(30)], loc="upper left", bbox_to_anchor=(1, 1))
    fig.text(0.01, 0.01, "a footnote under the axes", fontsize=20)
    problems = outside(fig)
    assert any("higher is better" in p for p in problems)
    assert any(p.startswith("legend") for p in problems)
    assert any("footnote" in pair for pair in overlapping(fig))
    styles = line_styles(fig)
    assert len(set(styles.values())) < len(styles)
