"""The consoles ``bench run``, ``bench cost`` and ``bench memory`` print to."""

from __future__ import annotations

from rich.console import Console


def table_console() -> Console:
    """The tables' console: at least 120 columns when not a terminal (files, pipes)."""
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(width=max(console.width, 120), highlight=False)
    return console


def stderr_console() -> Console:
    """Progress lines and "results: ..." / "written: ..." notes."""
    return Console(stderr=True, highlight=False)
