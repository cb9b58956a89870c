"""Loading results files for reports: several at once, every run labelled.

:func:`load` reads each file as a typed :class:`~asgibench.harness.results.Run` (so a
missing, unreadable or invalid file is one :class:`~asgibench.errors.BenchError` line)
and gives each a short, unique label: the file's stem, or ``stem#2`` ... when two files
share one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from asgibench.errors import BenchError
from asgibench.harness import results, testtypes
from asgibench.harness.results import Run


def _labels(paths: Sequence[str]) -> list[str]:
    stems = [Path(p).stem or str(p) for p in paths]
    out: list[str] = []
    seen: dict[str, int] = {}
    for stem in stems:
        count = seen.get(stem, 0) + 1
        seen[stem] = count
        out.append(stem if count == 1 else f"{stem}#{count}")
    return out


def load(paths: Sequence[str | os.PathLike[str]]) -> list[Run]:
    """Read every results file (BenchError, one line, for the first bad one)."""
    if not paths:
        raise BenchError("no results file given")
    names = [str(p) for p in paths]
    return [results.load(name, label) for name, label in zip(names, _labels(names),
                                                              strict=True)]


def all_tests(runs: Sequence[Run]) -> list[str]:
    return testtypes.order(test for run in runs for test in run.tests)
