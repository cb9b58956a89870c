"""``bench report --format json``: the report as one JSON document (``asgibench.report/1``).

The same content as the Markdown and HTML reports, for tools: the runs' environment
facts and flags, each test type's ranking (with the run label of every row), the
entries left out of it and why, the composite with its weights, the loop x parser
matrices, and open loop (``bench run --rate``: each entry's rates with the percentiles
over every round's requests, flags and failures; the driver's own latency at each rate).
Numbers are rounded as in the results file; nothing is formatted.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from asgibench.harness.results import DRIVER_SATURATED
from asgibench.reports.model import Report

SCHEMA_ID = "asgibench.report/1"


def to_dict(report: Report) -> dict[str, Any]:
    return {
        "schema": SCHEMA_ID,
        "runs": [run.to_dict() for run in report.runs],
        "flags": list(report.flags),
        "tests": list(report.tests),
        "levels": {k: list(v) for k, v in report.levels.items()},
        "pipeline": dict(report.pipeline),
        "rankings": {test: [row.to_dict() for row in rows]
                     for test, rows in report.rankings.items()},
        "not_ranked": {test: [item.to_dict() for item in items]
                       for test, items in report.excluded.items() if items},
        "unsupported": [item.to_dict() for item in report.unsupported],
        "composite": {
            "weights": dict(report.weights),
            "rows": [row.to_dict() for row in report.composite],
        },
        "matrices": [matrix.to_dict() for matrix in report.matrices],
        # A row's driver_saturated: its driver_utilisation reached this share.
        "driver_saturated_at": DRIVER_SATURATED,
        "open_loop": [dataclasses.asdict(row) for row in report.open_loop],
        "driver_accuracy": [dataclasses.asdict(row) for row in report.accuracy],
    }


def render(report: Report) -> str:
    return json.dumps(to_dict(report), indent=2, ensure_ascii=False) + "\n"
