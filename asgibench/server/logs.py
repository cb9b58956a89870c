"""Logging set-up for a server process (``bench serve`` and each of its workers)."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str) -> None:
    """Log records at ``level`` and above to stderr, one line each."""
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
