"""The optional compiled build: the server core's hot modules compiled by Cython.

Cython compiles the same ``.py`` files the pure-Python build runs; the ``.pxd`` file next
to each declares its classes as extension types, so their attributes are C fields rather
than dict entries (docs/server.md, "The compiled build"). Every extension is ``optional``:
without a C compiler, without Cython, with a Cython that cannot compile them, or with
``ASGIBENCH_PURE_PYTHON=1`` at install, the build goes on without it and the ``.py``
modules run: the same behaviour, more instructions. Beside each extension module it
builds, it writes the digest of the sources it was built from (asgibench/_build.py).
"""

import importlib.util
import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


def _load_build_module():
    """asgibench/_build.py, loaded without importing the package."""
    spec = importlib.util.spec_from_file_location("_asgibench_build", "asgibench/_build.py")
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BUILD = _load_build_module()


def _say(message):
    print(f"asgibench: {message}; the pure-Python modules will run", file=sys.stderr)


class CompileHotModules(build_ext):
    """Cythonizes the hot modules when the command is set up (setuptools then prepares
    the extensions it got), and records what each extension module was built from."""

    def finalize_options(self):
        self.distribution.ext_modules = _cythonized(self.distribution.ext_modules or [])
        super().finalize_options()

    def build_extension(self, ext):
        super().build_extension(ext)  # raises when it fails: no digest then
        _write_digest(ext, os.path.dirname(self.get_ext_fullpath(ext.name)))

    def copy_extensions_to_source(self):
        """An editable install builds in a temporary directory, then copies the extension
        modules beside the sources: their digests go with them."""
        super().copy_extensions_to_source()
        build_py = self.get_finalized_command("build_py")
        for ext in self.extensions:
            built = os.path.dirname(os.path.join(
                self.build_lib, self.get_ext_filename(self.get_ext_fullname(ext.name))))
            digest = _digest_name(ext.name)
            package = build_py.get_package_dir(ext.name.rpartition(".")[0])
            if os.path.isfile(os.path.join(built, digest)):
                self.copy_file(os.path.join(built, digest), os.path.join(package, digest))


def _cythonized(extensions):
    if not extensions or not all(e.sources[0].endswith(".py") for e in extensions):
        return extensions  # none asked for, or cythonized already
    try:
        from Cython.Build import cythonize
    except ImportError:  # installed without build isolation and without Cython
        _say("not compiled (Cython is not installed)")
        return []
    try:
        # annotation_typing=False: the annotations are documentation, as in the .py build
        # (Cython would otherwise make ``float`` a C double and check ``bytes`` exactly).
        extensions = cythonize(extensions, quiet=True, compiler_directives={
            "language_level": 3, "annotation_typing": False})
    except Exception as exc:  # e.g. a Cython too old or too new for these modules
        _say(f"not compiled ({exc})")
        return []
    for extension in extensions:  # cythonize() makes new ones, without the flag
        extension.optional = True
    return extensions


def _source(name):
    """``asgibench.server.cycle`` -> ``asgibench/server/cycle.py``."""
    return name.replace(".", "/") + ".py"


def _digest_name(name):
    """The file beside the extension module that holds its sources' digest."""
    return name.rpartition(".")[2] + BUILD.DIGEST_SUFFIX


def _write_digest(ext, folder):
    with open(os.path.join(folder, _digest_name(ext.name)), "w", encoding="ascii") as handle:
        handle.write(BUILD.sources_digest(_source(ext.name)) + "\n")


def ext_modules():
    if BUILD.pure_python_forced():
        return []
    return [Extension(name, [_source(name)], optional=True) for name in BUILD.COMPILED_MODULES]


setup(ext_modules=ext_modules(), cmdclass={"build_ext": CompileHotModules})
