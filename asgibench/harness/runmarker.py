"""A marker file per running ``bench run``, so a run can warn about others running now."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

from asgibench.harness.db import mask


class RunMarker:
    """Marks this ``bench run`` in the temp directory and finds others running now: two
    benchmarks sharing the CPUs spoil each other's numbers (POSIX only)."""

    def __init__(self) -> None:
        self.folder = os.path.join(tempfile.gettempdir(), "asgibench-runs")
        self.path = os.path.join(self.folder, str(os.getpid()))

    def __enter__(self) -> list[int]:
        if os.name != "posix":
            return []
        others: list[int] = []
        with contextlib.suppress(OSError):
            os.makedirs(self.folder, exist_ok=True)
            for name in os.listdir(self.folder):
                if not name.isdigit() or int(name) == os.getpid():
                    continue
                try:
                    os.kill(int(name), 0)
                except ProcessLookupError:
                    with contextlib.suppress(OSError):
                        os.unlink(os.path.join(self.folder, name))
                    continue
                except OSError:
                    pass  # alive, owned by another user
                others.append(int(name))
            with open(self.path, "w", encoding="ascii") as handle:
                handle.write(" ".join(map(mask, sys.argv)))  # world-readable: no passwords
        return sorted(others)

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.path)
