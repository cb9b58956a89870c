"""Which build of the server core runs: compiled by Cython, or pure Python.

The compiled build (setup.py) compiles the hot modules below from the same ``.py`` files;
Python imports an extension module before a ``.py`` of the same name, so where it was
built it runs. Beside each extension module the build writes ``<module>.built-from``: a
digest of the ``.py`` and ``.pxd`` it was compiled from. The finder installed by
``asgibench/__init__.py`` (:class:`_SourceWhenNeeded`) imports a module from its ``.py``
instead when those files no longer match (an edit since the build, which an editable
install does not recompile), or when ``ASGIBENCH_PURE_PYTHON`` is set (how the tests run
the pure-Python build from a compiled install, and how a user compares the two).

Kept light: ``import asgibench`` runs this in every server process.
"""

from __future__ import annotations

import os
import sys
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from typing import NamedTuple

PURE_PYTHON_ENV = "ASGIBENCH_PURE_PYTHON"
#: Written by setup.py beside each extension module it builds.
DIGEST_SUFFIX = ".built-from"

#: The request path's modules, compiled when a C compiler was there at install.
COMPILED_MODULES = (
    "asgibench.protocols.httptools",
    "asgibench.server.connection",
    "asgibench.server.cycle",
    "asgibench.server.http11",
    "asgibench.server.websocket",
)

#: Hot modules whose extension module was built from other sources than the ones beside
#: it now: they were imported from source, so an edit takes effect without a rebuild.
STALE: set[str] = set()


def flag(value: str | None) -> bool:
    """``ASGIBENCH_PURE_PYTHON``'s value as a switch: unset, empty, 0, false, no are off."""
    return (value or "").strip().lower() not in ("", "0", "false", "no", "off")


def pure_python_forced() -> bool:
    return flag(os.environ.get(PURE_PYTHON_ENV))


def sources_digest(source: str) -> str:
    """The digest setup.py records: the ``.py`` file's bytes and its ``.pxd``'s, if any."""
    import hashlib  # only where an extension module is there to check

    digest = hashlib.sha256()
    for path in (source, source[:-3] + ".pxd"):
        if os.path.isfile(path):
            with open(path, "rb") as handle:
                digest.update(handle.read())
        digest.update(b"\0")
    return digest.hexdigest()


class Build(NamedTuple):
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
                    "so runs from source (reinstall to compile it again)")
        if self.name == "mixed":
            missing = [name for name in COMPILED_MODULES if name not in self.compiled]
            return (f"mixed: {', '.join(missing)} not compiled (its compiling failed at "
                    "install), the rest compiled")
        return ("pure Python (not compiled at install: no C compiler, or "
                f"{PURE_PYTHON_ENV} was set; with a compiler, pip install --no-cache-dir "
                "--force-reinstall builds it)")


def current() -> Build:
    """The build the hot modules are (or would be) imported from."""
    compiled = tuple(name for name in COMPILED_MODULES if _is_extension(name))
    name = ("compiled" if len(compiled) == len(COMPILED_MODULES)
            else "mixed" if compiled else "pure-python")
    return Build(name, compiled, tuple(sorted(STALE)), pure_python_forced())


def _is_extension(name: str) -> bool:
    module = sys.modules.get(name)
    if module is None:
        from importlib.util import find_spec

        # Asks the finders (ours first) without running the module.
        origin = getattr(find_spec(name), "origin", None) or ""
    else:
        origin = getattr(module, "__file__", None) or ""
    return origin.endswith(tuple(EXTENSION_SUFFIXES))


class _SourceWhenNeeded:
    """A meta path finder: imports a hot module from its ``.py`` file, though an extension
    module of the same name was built beside it, when ``ASGIBENCH_PURE_PYTHON`` is set or
    the extension was built from other sources than the ``.py``/``.pxd`` there now."""

    def find_spec(self, fullname: str, path: list[str] | None,
                  target: object = None) -> ModuleSpec | None:
        if fullname not in COMPILED_MODULES or not path:
            return None
        leaf = fullname.rpartition(".")[2]
        for folder in path:
            source = os.path.join(folder, leaf + ".py")
            if not os.path.isfile(source):
                continue
            if not pure_python_forced():
                if not any(os.path.isfile(os.path.join(folder, leaf + suffix))
                           for suffix in EXTENSION_SUFFIXES):
                    return None  # the normal import: the source
                if _built_from(os.path.join(folder, leaf + DIGEST_SUFFIX)) == \
                        sources_digest(source):
                    return None  # the normal import: the extension module
                STALE.add(fullname)
            from importlib.util import spec_from_file_location

            return spec_from_file_location(fullname, source)
        return None


def _built_from(digest_file: str) -> str | None:
    try:
        with open(digest_file, encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return None


def install() -> None:
    """Put the finder first, before any hot module is imported (asgibench/__init__.py)."""
    if not any(isinstance(finder, _SourceWhenNeeded) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SourceWhenNeeded())  # type: ignore[arg-type]
