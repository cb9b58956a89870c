"""The optional compiled build: the server core's hot modules compiled by Cython.

Cython compiles the same ``.py`` files the pure-Python build runs; the ``.pxd`` file next
to each declares its classes as extension types, so their attributes are C fields rather
than dict entries (docs/server.md, "The compiled build"). Every extension is ``optional``:
without a C compiler (or with ``ASGIBENCH_PURE_PYTHON=1`` at install) the build goes on
without it and the ``.py`` modules run, the same behaviour and more instructions.
"""

import importlib.util
import os
import sys

from setuptools import Extension, setup


def hot_modules() -> tuple[str, ...]:
    """asgibench/_build.py's list, read without importing the package."""
    spec = importlib.util.spec_from_file_location("_build", "asgibench/_build.py")
    module = sys.modules["_build"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.COMPILED_MODULES


def ext_modules() -> list[Extension]:
    if os.environ.get("ASGIBENCH_PURE_PYTHON"):
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:  # installed without build isolation and without Cython
        return []
    extensions = [Extension(name, [name.replace(".", "/") + ".py"], optional=True)
                  for name in hot_modules()]
    # annotation_typing=False: the annotations are documentation, as in the .py build
    # (Cython would otherwise turn ``float`` into a C double and check ``bytes`` exactly).
    try:
        extensions = cythonize(extensions, quiet=True, compiler_directives={
            "language_level": 3, "annotation_typing": False})
    except Exception as exc:  # e.g. a Cython too old or too new for these modules
        print(f"asgibench: not compiled ({exc}); the pure-Python modules will run",
              file=sys.stderr)
        return []
    for extension in extensions:  # cythonize() makes new ones, without the flag
        extension.optional = True
    return extensions


setup(ext_modules=ext_modules())
