"""The file ``bench cost --out`` and ``bench memory --out`` write: the rows of a
measurement (:class:`~asgibench.harness.cost.Cost` or
:class:`~asgibench.harness.memory.Footprint`, as JSON) with the environment they were
measured in. :mod:`asgibench.reports.costchart` reads the cost kind back."""

from __future__ import annotations

import json
import os
import platform
import time
from typing import Any

from asgibench import __version__, loops
from asgibench.harness.servers import versions

COST_KIND = "asgibench-cost"
MEMORY_KIND = "asgibench-memory"


def write(path: str, kind: str, rows: list[dict[str, Any]], command: list[str]) -> None:
    """Write ``rows`` of measurement ``kind`` to ``path``, with ``command`` (the command
    line that measured them) and the machine, Python, server and loop versions."""
    document = {
        "kind": kind,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command,
        "asgibench_version": __version__,
        "python": platform.python_version(),
        "machine": {"system": platform.system(), "cpus": os.cpu_count()},
        "servers": versions(),
        "loops": {b.name: b.version() for b in loops.backends() if b.available()[0]},
        "rows": rows,
    }
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")
