"""asgibench: which event loop, HTTP/1.1 parser and ASGI server is fastest on *your* machine."""

__version__ = "0.1.0"

# Before any module of the request path is imported: it is imported from source where the
# compiled build is absent, stale or switched off (asgibench/_build.py).
from asgibench import _build

_build.install()
