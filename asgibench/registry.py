"""One registry idiom for every kind of plug-in: event loops, HTTP parsers, test types,
load drivers and peer servers.

A :class:`Registry` maps each name to where its plug-in lives: an import string
(``"module:attribute"``, imported on first use, as uvicorn's ``LOOP_SETUPS`` do) or the
plug-in object itself. Adding a plug-in is its module plus one line in its registry; the
CLI's choices and help, ``bench loops``/``bench protos`` and the harness's selection all
read the registry, so nothing else needs to learn the new name.

A plug-in answers :class:`Plugin`: ``name``, ``available()`` (usable here, and why not),
``version()`` and ``install_hint``. Selection understands ``auto`` (the registry's own
choice among the available ones) and ``all`` (every available one), and an unknown name
is one line that suggests the closest known one.

Plug-ins from outside the package: the modules named in ``ASGIBENCH_PLUGINS``
(comma-separated) and the ``asgibench.plugins`` entry points of installed distributions
are imported the first time any registry is read; each such module calls
``register()`` on the registries it extends. The variable is inherited by every server,
driver and canned server the harness starts, so they all see the same plug-ins.
"""

from __future__ import annotations

import difflib
import importlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import Generic, Protocol, TypeVar

from asgibench.errors import BenchError


class Plugin(Protocol):
    name: str
    install_hint: str

    def available(self) -> tuple[bool, str]:
        """(usable here, the reason if not)."""
        ...

    def version(self) -> str | None: ...


P = TypeVar("P", bound=Plugin)


@dataclass(frozen=True)
class Status:
    """One row of ``bench loops``/``bench protos``: can it run here, which version."""

    name: str
    available: bool
    reason: str  # "" when available
    version: str | None
    is_auto: bool = False  # the one ``auto`` picks


PLUGINS_ENV = "ASGIBENCH_PLUGINS"
PLUGINS_GROUP = "asgibench.plugins"
_plugins_loaded = False


def load_plugins() -> None:
    """Import the plug-in modules (see the module docstring), once per process."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True  # first: a plug-in module reads the registries it extends
    for name in filter(None, (n.strip() for n in os.environ.get(PLUGINS_ENV, "").split(","))):
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise BenchError(f"{PLUGINS_ENV}: cannot import plug-in module {name!r}: "
                             f"{exc}") from None
    for entry in metadata.entry_points(group=PLUGINS_GROUP):
        entry.load()


def import_string(target: str) -> object:
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


class Registry(Generic[P]):
    """Named plug-ins of one kind, in display order."""

    def __init__(self, kind: str, entries: dict[str, str | P],
                 auto: Callable[[], str] | None = None) -> None:
        self.kind = kind  # "loop", "parser", "test type", "driver", "server"
        self._entries: dict[str, str | P] = dict(entries)
        self._auto = auto

    def register(self, name: str, target: str | P) -> None:
        """Add a plug-in (the registry line); a test may add and :meth:`unregister` one."""
        self._entries[name] = target

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)

    def names(self) -> list[str]:
        """Every known name, available here or not, in display order."""
        load_plugins()
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        load_plugins()
        return name in self._entries

    def plugin(self, name: str) -> P:
        """The plug-in called ``name`` (``auto`` resolved), available or not."""
        load_plugins()
        if name == "auto" and self._auto is not None:
            name = self._auto()
        try:
            target = self._entries[name]
        except KeyError:
            raise self.unknown(name) from None
        if isinstance(target, str):
            target = import_string(target)  # type: ignore[assignment]
            self._entries[name] = target
        return target  # type: ignore[return-value]

    def plugins(self) -> list[P]:
        return [self.plugin(name) for name in self.names()]

    def get(self, name: str) -> P:
        """The plug-in called ``name``, if usable here; else one BenchError line."""
        plugin = self.plugin(name.strip())
        usable, reason = plugin.available()
        if not usable:
            raise BenchError(f"{self.kind} {plugin.name!r} is not available here: {reason}; "
                             f"available: {', '.join(self.choices())}")
        return plugin

    def available(self) -> list[str]:
        """Names usable here, in display order (``auto`` not included)."""
        return [plugin.name for plugin in self.plugins() if plugin.available()[0]]

    def auto_name(self) -> str | None:
        return self._auto() if self._auto is not None else None

    def choices(self) -> list[str]:
        """What a user may name on this machine: ``auto`` (if any) and the usable ones."""
        return (["auto"] if self._auto is not None else []) + self.available()

    def help_names(self) -> str:
        """For option help: every known name, whether usable here or not."""
        return ", ".join((["auto"] if self._auto is not None else []) + self.names())

    def suggestion(self, name: str) -> str:
        """``"did you mean 'uvloop'? "`` for a near miss, else ``""``."""
        known = (["auto"] if self._auto is not None else []) + self.names()
        close = difflib.get_close_matches(name, known, n=1)
        return f"did you mean {close[0]!r}? " if close else ""

    def unknown(self, name: str) -> BenchError:
        known = (["auto"] if self._auto is not None else []) + self.names()
        return BenchError(f"unknown {self.kind} {name!r}; {self.suggestion(name)}choose from: "
                          f"{', '.join(known)}")

    def select(self, spec: str | Iterable[str], what: str | None = None) -> list[P]:
        """``"a,b"`` / ``"all"`` (every usable one) / ``"auto"`` -> plug-ins, order kept,
        duplicates dropped; BenchError for an unknown or unusable name or an empty spec."""
        items = spec.split(",") if isinstance(spec, str) else list(spec)
        names = [item.strip() for item in items if item.strip()]
        if not names:
            raise BenchError(f"no {what or self.kind} given; choose from: "
                             f"{', '.join(self.choices())} (or all)")
        if "all" in names:
            return [self.plugin(name) for name in self.available()]
        out: list[P] = []
        for name in names:
            plugin = self.get(name)
            if plugin not in out:
                out.append(plugin)
        return out

    def describe(self) -> list[Status]:
        chosen = self.auto_name()
        rows = []
        for plugin in self.plugins():
            usable, reason = plugin.available()
            rows.append(Status(plugin.name, usable, reason, plugin.version(),
                               plugin.name == chosen))
        return rows
