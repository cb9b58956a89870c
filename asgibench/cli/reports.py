"""``bench report``, ``bench chart``, ``bench compare`` and ``bench merge``: results files
turned into tables, charts, verdicts and merged runs (:mod:`asgibench.reports`). Mistakes
raise :class:`~asgibench.errors.BenchError` (one line, exit status 2)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import click
from click.core import ParameterSource

from asgibench.errors import BenchError
from asgibench.harness import resources
from asgibench.reports import (
    charts,
    compare,
    costchart,
    costcompare,
    html,
    jsonout,
    load,
    markdown,
    merge,
    model,
)

_CTX = {"max_content_width": 100}


def _emit(text: str, out: str | None) -> None:
    """Write ``text`` to ``out`` (a file; ``-`` or None: stdout)."""
    if out is None or out == "-":
        click.echo(text, nl=False)
        return
    path = Path(out)
    try:
        if path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise BenchError(f"cannot write {out!r}: {exc.strerror or exc}") from None
    click.echo(f"wrote {path}", err=True)


@click.command("report", context_settings=_CTX)
@click.argument("results", nargs=-1, required=True, metavar="RESULTS...")
@click.option("--format", "form", type=click.Choice(["md", "html", "json"]), default="md",
              show_default=True, help="Markdown (READMEs, PR comments), one self-contained "
              "HTML file, or JSON.")
@click.option("-o", "--output", "output", default=None, metavar="FILE",
              help="Write here instead of stdout.")
@click.option("--charts/--no-charts", "embed_charts", default=True, show_default=True,
              help="Embed charts in the HTML report (needs matplotlib).")
def report_command(results: tuple[str, ...], form: str, output: str | None,
                   embed_charts: bool) -> None:
    """Ranked TechEmpower-style report of one or more results files.

    \b
    Per test type: rank, configuration, best requests/s with its spread over repeats,
    % of the best, p50/p99 latency, errors, flags; failed and unverified entries below,
    with their reason. Then the composite score and the loop x parser matrices. Several
    files are merged, each row labelled with its file.
    """
    report = model.build(load.load(list(results)))
    if form == "md":
        text = markdown.render(report)
    elif form == "json":
        text = jsonout.render(report)
    else:
        text = html.render(report, charts=embed_charts)
    _emit(text, output)


@click.command("chart", context_settings=_CTX)
@click.argument("results", nargs=-1, required=True, metavar="RESULTS...")
@click.option("-o", "--output", "output", required=True, metavar="DIR",
              help="Directory for the charts (created if needed).")
@click.option("--format", "form", type=click.Choice(["png", "svg"]), default="png",
              show_default=True)
def chart_command(results: tuple[str, ...], output: str, form: str) -> None:
    """Charts of one or more results files (matplotlib).

    \b
    Per test type: a ranking bar chart, requests/s against concurrency and latency
    percentile curves; per server, the loop x parser heat map. Each states its
    environment in a footnote. A `bench cost --out` file gets a bar chart of
    instructions per request, named after the file.
    """
    charts.require()
    runs = []
    for name in results:
        cost = costchart.read_cost(name)
        if cost is None:
            runs.append(name)
        else:
            click.echo(str(costchart.write(cost, Path(name).stem, output, form)))
    if runs:
        report = model.build(load.load(runs))
        for path in charts.write(report, output, form):
            click.echo(str(path))


def _threshold(_ctx: click.Context, _param: click.Parameter, value: str | None
               ) -> float | None:
    if value is None:  # the default depends on the files: runs or cost counts
        return None
    try:
        return compare.parse_threshold(value)
    except BenchError as exc:
        raise click.BadParameter(str(exc).replace("--threshold ", "")) from None


@click.command("compare", context_settings=_CTX)
@click.argument("baseline")
@click.argument("candidate")
@click.option("--threshold", default=None, callback=_threshold, metavar="PCT",
              help="Changes smaller than this are never a verdict; slower means the whole "
              "interval is below 1 - PCT.  [default: 5% for results files, 2% for bench "
              "cost files]")
@click.option("--format", "form", type=click.Choice(["text", "md", "json"]), default="text",
              show_default=True)
@click.option("--normalise", "--normalize", "normalise", is_flag=True, default=False,
              help="Compare requests/s divided by each run's driver ceiling (the "
              "canned-response server), so runs from different machines compare.")
@click.option("--pair-rounds", "paired", is_flag=True, default=False,
              help="With --normalise: divide each repeat by the ceiling measured in its "
              "own round (when every round has one, e.g. merged runs), instead of by the "
              "median of the run's ceiling measurements.")
@click.option("--statistic", type=click.Choice(["median", "best"]), default="median",
              show_default=True, help="A side's figure over its repeats: the median (as "
              "the ranking), or the best repeat (on a shared, noisy machine interference "
              "only slows runs down).")
@click.option("--confidence", type=click.FloatRange(0.5, 0.999), default=0.95,
              show_default=True, help="Confidence level of the intervals.")
@click.option("--resamples", type=click.IntRange(min=100), default=2000, show_default=True,
              help="Bootstrap resamples per entry.")
@click.option("-o", "--output", "output", default=None, metavar="FILE",
              help="Also write the comparison here (same format).")
@click.pass_context
def compare_command(ctx: click.Context, baseline: str, candidate: str,
                    threshold: float | None, form: str, normalise: bool, paired: bool,
                    statistic: str, confidence: float, resamples: int,
                    output: str | None) -> None:
    """Compare two results files: per entry a ratio with a confidence interval and a
    verdict (faster, slower, no significant change). Or two `bench cost --out` files:
    per entry the ratio of instructions per request (more work, less work, no
    significant change), a gate the machine's noise cannot fool.

    \b
    Exit status: 1 if any entry is significantly slower than --threshold (or failed in
    the candidate only), 0 otherwise, 2 for bad input. Usable as a CI gate:
      bench compare results/baseline.json new.json --threshold 10% --normalise
      bench compare cost-baseline.json cost-new.json     # default threshold 2%
    """
    kinds = [(path, costcompare.kind_of(path)) for path in (baseline, candidate)]
    memory = [path for path, kind in kinds if kind == "memory"]
    if memory:
        raise BenchError(f"{memory[0]!r} is a bench memory file; bench compare takes two "
                         "results files or two bench cost files")
    costs = [path for path, kind in kinds if kind == "cost"]
    if len(costs) == 1:
        other = next(path for path, kind in kinds if kind != "cost")
        problem = resources.unreadable(other)
        if problem:  # missing or not JSON: say so, not that it is another kind
            raise BenchError(problem)
        raise BenchError(f"{costs[0]!r} is a bench cost file but {other!r} is not: compare "
                         "two results files or two bench cost files")
    if costs:
        _compare_costs(ctx, baseline, candidate, threshold, form, output)
        return
    threshold = 0.05 if threshold is None else threshold
    base = load.load([baseline])[0]
    cand = load.load([candidate])[0]
    result = compare.compare(base, cand, threshold, normalise=normalise,
                             confidence=confidence, resamples=resamples, statistic=statistic,
                             paired=paired)
    _verdict(compare.RENDERERS[form](result), output, form, result.warnings,
             result.exit_status)


def _verdict(text: str, output: str | None, form: str, warnings: Sequence[str],
             exit_status: int) -> None:
    """Print a comparison (and write it to ``output``), its warnings on stderr where the
    format does not carry them, and exit with its status: runs and cost files alike."""
    click.echo(text, nl=False)
    if output:
        _emit(text, output)
    if form != "text":
        for warning in warnings:
            click.echo(f"warning: {warning}", err=True)
    sys.exit(exit_status)


#: bench compare's options that judge repeats of runs: nothing to do with one count.
#: Refused only when given on the command line: one set in the environment
#: (ASGIBENCH_COMPARE_STATISTIC=best) is meant for the comparisons of runs it applies to.
_RUN_ONLY = ("normalise", "paired", "statistic", "confidence", "resamples")


def _compare_costs(ctx: click.Context, baseline: str, candidate: str,
                   threshold: float | None, form: str, output: str | None) -> None:
    """``bench compare`` of two cost files (exit 0, 1; BenchError for bad input)."""
    given = [name for name in _RUN_ONLY
             if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE]
    if given:
        flags = {"normalise": "--normalise", "paired": "--pair-rounds"}
        names = ", ".join(flags.get(name, f"--{name}") for name in given)
        raise BenchError(f"{names}: not for bench cost files, which hold one instruction "
                         "count per entry (--threshold alone applies)")
    result = costcompare.compare(costcompare.read(baseline), costcompare.read(candidate),
                                 costcompare.DEFAULT_THRESHOLD if threshold is None
                                 else threshold)
    _verdict(costcompare.RENDERERS[form](result), output, form, result.warnings,
             result.exit_status)


@click.command("merge", context_settings=_CTX)
@click.argument("results", nargs=-1, required=True, metavar="RESULTS...")
@click.option("-o", "--output", "output", required=True, metavar="FILE",
              help="Where the merged results file goes.")
def merge_command(results: tuple[str, ...], output: str) -> None:
    """Merge runs of the same configuration into one results file with more repeats.

    \b
    Each run's driver ceiling is kept with the rounds it preceded, so
    `compare --normalise` divides round by round. E.g. five `bench run --repeat 1`
    merged make a 5-repeat run with five ceiling measurements.
    """
    document = merge.merge(load.load(list(results))).to_dict()
    _emit(json.dumps(document, indent=2) + "\n", output)
