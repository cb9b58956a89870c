"""The file ``bench cost --out`` and ``bench memory --out`` write: the rows of a
measurement (:class:`~asgibench.harness.cost.Cost` or
:class:`~asgibench.harness.memory.Footprint`, as JSON) with the environment they were
measured in. :func:`read_cost` reads the cost kind back, typed (``bench compare`` of two
cost files); :mod:`asgibench.reports.costchart` charts it."""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass
from typing import Any

from asgibench import __version__, _build, loops
from asgibench.errors import BenchError
from asgibench.harness.cost import Cost
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
        "core_build": _build.current().name,
        "machine": {"system": platform.system(), "cpus": os.cpu_count()},
        "servers": versions(),
        "loops": {b.name: b.version() for b in loops.backends() if b.available()[0]},
        "rows": rows,
    }
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")


@dataclass
class CostFile:
    """A ``bench cost --out`` file read back: its rows, and the rest of the document (the
    environment: ``created``, ``python``, ``asgibench_version``, ``machine``, ``servers``,
    ``loops``) as written."""

    path: str
    meta: dict[str, Any]
    rows: list[Cost]

    @property
    def created(self) -> str:
        return str(self.meta.get("created") or "")


def unreadable(path: str) -> str | None:
    """Why ``path`` cannot be read as a JSON document (one line), or None when it can."""
    try:
        with open(path, encoding="utf-8") as handle:
            json.load(handle)
    except FileNotFoundError:
        return f"{path!r} does not exist"
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return f"cannot read {path!r}: {exc}"
    return None


def read_cost(path: str) -> CostFile:
    """A ``bench cost --out`` file, typed; BenchError (one line) for anything else."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except FileNotFoundError:
        raise BenchError(f"cost file {path!r} does not exist") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise BenchError(f"cannot read cost file {path!r}: {exc}") from None
    if not isinstance(document, dict) or document.get("kind") != COST_KIND:
        raise BenchError(f"{path!r} is not a bench cost file (kind {COST_KIND!r})")
    raw_rows = document.get("rows")
    if not isinstance(raw_rows, list):
        raise BenchError(f"cost file {path!r} has no rows list")
    rows = []
    for index, row in enumerate(raw_rows):
        try:
            rows.append(Cost.from_json(row))
        except ValueError as exc:
            raise BenchError(f"cost file {path!r}: row {index} {exc}") from None
    return CostFile(path, {k: v for k, v in document.items() if k != "rows"}, rows)
