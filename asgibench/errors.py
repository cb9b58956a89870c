"""User-facing errors: one line on stderr, exit status 2, never a traceback."""

from __future__ import annotations


class BenchError(Exception):
    """A mistake the user can fix (bad flag value, missing tool, busy port...).

    The CLI prints ``bench <command>: error: <message>`` and exits with ``exit_code``.
    Messages should say what is valid or what to do next.
    """

    exit_code = 2
