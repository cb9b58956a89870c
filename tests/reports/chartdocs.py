"""Results runs with 1, 5 or 30 configurations for the chart tests (and for looking at the
charts by eye: ``python -m tests.reports.chartdocs DIR`` writes every chart of each size).

The runs are built the way the harness builds them: a hand-made document (the same
helpers as :mod:`tests.reports.reportdocs`), loaded through the typed model
(:class:`asgibench.harness.results.Run`), so ``ranking``/``composite`` come from the
harness's own code and the document passes the schema.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import Any

from asgibench.harness import results, schema
from asgibench.reports import model

from . import reportdocs

SERVERS = ("asgibench", "uvicorn", "hypercorn", "granian")
LOOPS = ("asyncio", "uvloop", "rloop")
PARSERS = ("httptools", "h11", "zttp")
#: json runs at several levels (a line per configuration); plaintext at one, as the
#: reference run does (the concurrency chart has nothing to draw there).
LEVELS = {"json": [16, 64, 256, 1024], "plaintext": [256]}
SIZES = (1, 5, 30)
#: How many configurations are also measured open loop (--rate 50%,90%).
OPEN_LOOP_CONFIGS = 5


def configurations(count: int) -> list[tuple[str, str, str]]:
    """``count`` distinct (server, loop, parser), servers interleaved so that a run of 5
    already has several servers sharing parsers (where a colour-per-parser scheme
    repeats)."""
    combos = list(itertools.product(LOOPS, PARSERS))
    out = [(server, loop, parser) for (loop, parser) in combos for server in SERVERS]
    if count > len(out):
        raise ValueError(f"at most {len(out)} configurations")
    return out[:count]


def document(
    count: int, *, repeats: int = 3, levels: dict[str, list[int]] | None = None
) -> dict[str, Any]:
    """A valid results document with ``count`` ranked configurations per test type."""
    levels = levels or LEVELS
    doc = reportdocs.document(repeats=repeats, extras=False)
    entries = []
    for index, (server, loop, parser) in enumerate(configurations(count)):
        # distinct figures, saturating with concurrency like a real server
        base = 4000.0 + 900.0 * ((index * 7) % count if count > 1 else 0)
        for test in levels:
            pipeline = 16 if test == "plaintext" else 1
            by_level = {c: base * (pipeline**0.5) * (1 - 0.5 ** (1 + c / 64)) for c in levels[test]}
            levels_out = reportdocs._levels(test, by_level, pipeline, repeats, 1.0)
            # open loop at 50% and 90% on the first configurations (the latency-load
            # chart: a line per entry, as a comparison of a few servers draws it)
            if test == "json" and index < OPEN_LOOP_CONFIGS:
                best = max(by_level.values())
                for rate, share, p99 in (("50%", 0.5, 4.0), ("90%", 0.9, 30.0 + index)):
                    repeat = reportdocs._open_repeat(best * share, 1.0 + index / 10, p99, 0, 1)
                    levels_out.append({"concurrency": max(levels[test]), "rate": rate,
                                       "pipeline": 1, "repeats": [repeat]})
            entries.append(
                reportdocs.entry(
                    server,
                    loop,
                    parser,
                    test,
                    verification=reportdocs._verification(),
                    levels=levels_out,
                )
            )
    doc["entries"] = entries
    doc["settings"].update(
        tests=list(levels),
        levels={t: list(v) for t, v in levels.items()},
        pipeline={t: (16 if t == "plaintext" else 1) for t in levels},
        servers=list(SERVERS),
        loops=list(LOOPS),
        parsers=list(PARSERS),
        repeat=repeats,
    )
    doc["ceiling"] = [c for c in doc["ceiling"] if c["concurrency"] in levels.get(c["test"], [])]
    doc.pop("ranking", None)
    doc.pop("composite", None)
    doc = results.Run.from_dict(doc).to_dict()
    schema.validate(doc)
    return doc


def report(count: int, **kwargs: Any) -> model.Report:
    """The report ``bench chart`` would draw for :func:`document`."""
    return model.build([results.Run.from_dict(document(count, **kwargs), label="run")])


def merged_report(count: int) -> model.Report:
    """Two runs of ``count`` configurations from different machines, charted together:
    every configuration twice, labelled with its run (the case the newcomer hit with
    ``bench chart reference/*.json``)."""
    first = document(count)
    second = document(count)
    second["environment"]["cpu"]["model"] = "Intel Xeon Platinum 8375C with a long name"
    return model.build(
        [
            results.Run.from_dict(first, label="2026-11-23-every-combo-c64-vs-uvicorn"),
            results.Run.from_dict(second, label="2026-11-24-every-combo-c64-vs-uvicorn-final"),
        ]
    )


def cost_document(count: int) -> dict[str, Any]:
    """A ``bench cost --out`` document with ``count`` counted rows."""
    rows = [
        {
            "server": server,
            "loop": loop,
            "parser": parser,
            "test": "plaintext",
            "pipeline": 1,
            "requests": 1000,
            "per_request": 20_000.0 + 9_000.0 * i,
            "instructions": int((20_000.0 + 9_000.0 * i) * 1000),
            "reason": "",
        }
        for i, (server, loop, parser) in enumerate(configurations(count))
    ]
    return {
        "kind": "asgibench-cost",
        "created": "2026-11-23T12:00:00Z",
        "python": "3.11.7",
        "servers": {"asgibench": "0.1.0", "uvicorn": "0.54.0"},
        "rows": rows,
    }


if __name__ == "__main__":  # write every chart of each size, to look at them
    from asgibench.reports import charts

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "charts-by-size")
    for size in SIZES:
        for path in charts.write(report(size), out / f"n{size}"):
            print(path)
