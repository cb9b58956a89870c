"""Options shared by several ``bench`` commands.

``bench run``, ``bench cost`` and ``bench memory`` select what they measure with one
decorator set, :func:`selection_options` (``--server``, ``--loop``, ``--proto`` and, where
it applies, ``--test``), and the user's own app with :func:`app_options` (``--app``,
``--app-dir``, ``--endpoint``, ``--scenario``), plus :func:`host_option`,
:func:`startup_timeout_option` and :func:`out_option`; each command gives its own defaults
and help texts. ``bench serve`` options take their defaults from ``ASGIBENCH_*``
environment variables (:func:`env_option`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from asgibench import loops, protocols

F = TypeVar("F", bound=Callable[..., Any])

Help = str | Callable[[], str]

#: Help texts that several commands share word for word. The lists of names come from the
#: registries when the help is shown, so a plug-in registered later is listed too. The
#: harness registries are imported only then: ``bench serve`` (the server that ``bench
#: run`` and ``bench memory`` measure) must not load the harness.
STARTUP_TIMEOUT_HELP = "Seconds a server may take to answer after start."


def loops_help() -> str:
    return f"Event loops: {loops.LOOPS.help_names()}, or all (every available one)."


def protos_help() -> str:
    return f"HTTP/1.1 parsers: {protocols.PARSERS.help_names()}, or all."


def servers_help() -> str:
    from asgibench.harness import servers

    return (f"Servers: {', '.join(servers.SERVERS.names())} (comma-separated), or all "
            "(every installed one).")


def tests_help() -> str:
    from asgibench.harness import testtypes

    return f"Test types: {', '.join(testtypes.names())} (comma-separated), or all."


def drivers_help() -> str:
    from asgibench.harness import drivers

    return (f"Load driver: {drivers.DRIVERS.help_names()}; auto = wrk (TechEmpower's) when "
            "installed, else python (asgibench's own, any OS).")


class _LiveHelpOption(click.Option):
    """An option whose help text is built when it is shown (see the Help type)."""

    def __init__(self, *args: Any, help: Help = "", **kwargs: Any) -> None:
        self._help = help
        super().__init__(*args, help=help if isinstance(help, str) else "", **kwargs)

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        if callable(self._help):
            self.help = self._help()
        return super().get_help_record(ctx)


def option(*names: str, help: Help = "", **kwargs: Any) -> Callable[[F], F]:
    """``click.option`` whose ``help`` may be a function, called when help is shown."""
    return click.option(*names, cls=_LiveHelpOption, help=help, **kwargs)


def _env(flag: str) -> str:
    return "ASGIBENCH_" + flag.upper().replace("-", "_")


def _apply(decorators: list[Callable[[F], F]]) -> Callable[[F], F]:
    """Apply ``decorators`` so that their options are listed in the given order."""

    def decorate(function: F) -> F:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return decorate


def env_option(flag: str, **kwargs: Any) -> Callable[[F], F]:
    """A ``--flag`` whose default can come from ``ASGIBENCH_FLAG`` (help may be live)."""
    name = flag.split("/")[0].lstrip("-")
    return option(flag, envvar=_env(name), show_envvar=True, **kwargs)


def selection_options(*, server: str, server_help: Help, loop: str, loop_help: Help,
                      proto: str, proto_help: Help, test: str | None = None,
                      test_help: Help = "") -> Callable[[F], F]:
    """``--server``, ``--loop``, ``--proto`` and (when ``test`` is given) ``--test``, as
    the parameters ``server_spec``, ``loop_spec``, ``proto_spec`` and ``test_spec``:
    comma-separated names, resolved by :mod:`asgibench.harness.plan`."""
    decorators = [
        option("--server", "server_spec", default=server, show_default=True,
               metavar="NAMES", help=server_help),
        option("--loop", "loop_spec", default=loop, show_default=True,
               metavar="NAMES", help=loop_help),
        option("--proto", "proto_spec", default=proto, show_default=True,
               metavar="NAMES", help=proto_help),
    ]
    if test is not None:
        decorators.append(option("--test", "test_spec", default=test,
                                 show_default=True, metavar="NAMES", help=test_help))
    return _apply(decorators)


#: ``--app-dir`` and the shape of ``--endpoint``/``--scenario``: the same in every command.
APP_DIR_HELP = "Import --app from DIR (default: the current directory)."
ENDPOINT_METAVAR = "'METHOD /path [@FILE]'"


def app_options(*, app_help: str, endpoint_help: str, scenario_help: str
                ) -> Callable[[F], F]:
    """``--app MODULE:ATTR``, ``--app-dir DIR``, ``--endpoint`` and ``--scenario``
    (both repeatable), as the parameters ``app``, ``app_dir``, ``endpoint_specs`` and
    ``scenario_paths`` that :func:`asgibench.harness.plan.app_and_tests` reads. Each
    command says in its help texts what it does with them."""
    return _apply([
        click.option("--app", default=None, metavar="MODULE:ATTR", help=app_help),
        click.option("--app-dir", default=None, metavar="DIR", help=APP_DIR_HELP),
        click.option("--endpoint", "endpoint_specs", multiple=True,
                     metavar=ENDPOINT_METAVAR, help=endpoint_help),
        click.option("--scenario", "scenario_paths", multiple=True, metavar="FILE.toml",
                     help=scenario_help),
    ])


def host_option(help: str | None = None) -> Callable[[F], F]:
    """``--host``: the address the servers bind."""
    return click.option("--host", default="127.0.0.1", show_default=True, help=help)


def startup_timeout_option() -> Callable[[F], F]:
    """``--startup-timeout``: how long a server may take to answer after it starts."""
    return click.option("--startup-timeout", type=click.FloatRange(min=1), default=20.0,
                        show_default=True, help=STARTUP_TIMEOUT_HELP)


def out_option(*, default: str | None, metavar: str, help: str) -> Callable[[F], F]:
    """``--out``: where the command writes its results file."""
    return click.option("--out", default=default, show_default=default is not None,
                        metavar=metavar, help=help)



def hosts_options(*, required: bool = False) -> Callable[[F], F]:
    """``--server-host``, ``--driver-host``, ``--db-host``, ``--ssh-key`` and
    ``--remote-python``: the hosts of a run across machines (docs/hosts.md), read by
    :func:`asgibench.harness.plan.parse_topology`."""
    need = " (needed)" if required else ""
    return _apply([
        click.option("--server-host", default=None, metavar="ssh://[USER@]HOST[:PORT]",
                     help="Start the servers on this host over SSH" + need + "; with "
                          "--driver-host. See docs/hosts.md."),
        click.option("--driver-host", default=None, metavar="ssh://...[,ssh://...]",
                     help="Run the load driver on these hosts over SSH" + need + ", all at "
                          "once, their load added up."),
        click.option("--db-host", default=None, metavar="ssh://[USER@]HOST[:PORT]",
                     help="The host of the --db database, checked and recorded."),
        click.option("--ssh-key", default=None, metavar="PATH",
                     help="Private key for the hosts [default: the SSH agent and ~/.ssh]."),
        click.option("--remote-python", default=None, metavar="PATH",
                     help="The Python that has asgibench on the hosts [default: python3]."),
    ])
