"""Turning a comma-separated option (``--server``, ``--test``) into registry items."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from asgibench.errors import BenchError

T = TypeVar("T")


def select(
    wanted: Iterable[str],
    everything: Callable[[], list[T]],
    get: Callable[[str], T],
    nothing_given: str,
) -> list[T]:
    """``all`` means ``everything()``; otherwise each name through ``get`` (which raises
    BenchError for an unknown one), duplicates dropped, order kept."""
    names = list(wanted)
    if not names:
        raise BenchError(nothing_given)
    if "all" in names:
        return everything()
    out: list[T] = []
    for name in names:
        item = get(name)
        if item not in out:
            out.append(item)
    return out
