"""The ASGI server core: any loop x any parser.

Public API: ``Config`` (one field per ``bench serve`` flag) and ``Server``.
"""

from asgibench.server.config import Config
from asgibench.server.server import Server

__all__ = ["Config", "Server"]
