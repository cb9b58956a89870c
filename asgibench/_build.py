"""Which build of the server core runs: compiled by Cython, or pure Python.

The compiled build (setup.py) compiles the hot modules below from the same ``.py`` files;
Python imports an extension module before a ``.py`` of the same name, so where it was
built it runs. ``ASGIBENCH_PURE_PYTHON=1`` at run time imports the ``.py`` files instead
(``asgibench/__init__.py`` installs :class:`_SourceWhenNeeded`), which is how the tests run
the pure-Python build from a compiled install and how a user compares the two; so does a
``.py`` edited after the build.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

PURE_PYTHON_ENV = "ASGIBENCH_PURE_PYTHON"

#: The request path's modules, compiled when a C compiler was there at install.
COMPILED_MODULES = (
    "asgibench.protocols.httptools",
    "asgibench.server.connection",
    "asgibench.server.cycle",
    "asgibench.server.http11",
    "asgibench.server.websocket",
)


#: Hot modules whose extension module is older than their ``.py`` (edited since the last
#: build): they were imported from source, so an edit takes effect without a rebuild.
STALE: set[str] = set()


@dataclass(frozen=True)
class Build:
    """``name`` is ``"compiled"`` when every hot module runs as an extension module,
    ``"pure-python"`` when none does, ``"mixed"`` otherwise."""

    name: str
    compiled: tuple[str, ...]
    stale: tuple[str, ...]
    forced_pure: bool

    def describe(self) -> str:
        if self.name == "compiled":
            return f"compiled (Cython): the {len(self.compiled)} modules of the request path"
        if self.forced_pure:
            return f"pure Python ({PURE_PYTHON_ENV} is set)"
        if self.stale:
            return (f"{self.name}: {', '.join(self.stale)} changed since the compiled build, "
                    "so runs from source (pip install -e . rebuilds it)")
        return ("pure Python (not compiled at install: no C compiler, or "
                f"{PURE_PYTHON_ENV} was set; reinstall with a compiler for the compiled "
                "build)")


def current() -> Build:
    """The build the hot modules are (or would be) imported from."""
    compiled = tuple(name for name in COMPILED_MODULES if _is_extension(name))
    name = ("compiled" if len(compiled) == len(COMPILED_MODULES)
            else "mixed" if compiled else "pure-python")
    return Build(name, compiled, tuple(sorted(STALE)), bool(os.environ.get(PURE_PYTHON_ENV)))


def _is_extension(name: str) -> bool:
    module = sys.modules.get(name)
    # find_spec() asks the finders (ours first) without running the module.
    origin = (getattr(module, "__file__", None) if module is not None
              else getattr(importlib.util.find_spec(name), "origin", None)) or ""
    return origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


class _SourceWhenNeeded(importlib.abc.MetaPathFinder):
    """Imports a hot module from its ``.py`` file, though an extension module of the same
    name was built beside it, when ``ASGIBENCH_PURE_PYTHON`` is set or the ``.py`` is newer
    (an edit since the build: running the old compiled code would hide it)."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in COMPILED_MODULES or not path:
            return None
        leaf = fullname.rpartition(".")[2]
        for folder in path:
            source = os.path.join(folder, leaf + ".py")
            if not os.path.isfile(source):
                continue
            if not os.environ.get(PURE_PYTHON_ENV):
                built = [os.path.join(folder, leaf + suffix)
                         for suffix in importlib.machinery.EXTENSION_SUFFIXES]
                built = [os.path.getmtime(file) for file in built if os.path.isfile(file)]
                if not built or max(built) >= os.path.getmtime(source):
                    return None  # the normal import: the extension, else the source
                STALE.add(fullname)
            return importlib.util.spec_from_file_location(fullname, source)
        return None


def install() -> None:
    """Put the finder first, before any hot module is imported (asgibench/__init__.py)."""
    if not any(isinstance(finder, _SourceWhenNeeded) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SourceWhenNeeded())
