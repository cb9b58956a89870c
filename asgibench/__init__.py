"""asgibench: which event loop, HTTP/1.1 parser and ASGI server is fastest on *your* machine."""

__version__ = "0.1.0"
