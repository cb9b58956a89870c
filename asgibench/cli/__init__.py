"""``bench``: the command line, the top layer of asgibench (nothing in the package imports
it). Each subcommand is a thin layer over a documented API:

* :mod:`asgibench.cli.serve` -- ``serve``, ``loops``, ``protos`` (the server layer);
* :mod:`asgibench.cli.run` -- ``run`` (:mod:`asgibench.harness.plan`, the runner);
* :mod:`asgibench.cli.resources` -- ``cost``, ``memory``;
* :mod:`asgibench.cli.reports` -- ``report``, ``chart``, ``compare``, ``merge``;
* :mod:`asgibench.cli.db` -- ``db init``, ``db check`` (:mod:`asgibench.harness.db`);
* :mod:`asgibench.cli.hosts` -- ``hosts check`` (:mod:`asgibench.harness.hosts`);
* :mod:`asgibench.cli.options`, :mod:`asgibench.cli.output` -- options several commands
  share, and the consoles they print to.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from asgibench import __version__
from asgibench.cli.serve import loops_command, protos_command, serve_command
from asgibench.errors import BenchError

#: The commands over the harness and the reports, as ``module:attribute``, imported when
#: used (or listed by ``--help``). Not imported here because ``python -m asgibench serve``
#: is the server ``bench run``, ``bench cost`` and ``bench memory`` measure: the harness,
#: the reports and rich would add ~5 MB to its resident size and ~0.3 s to its start-up.
LAZY_COMMANDS = {
    "run": "asgibench.cli.run:run_command",
    "cost": "asgibench.cli.resources:cost_command",
    "memory": "asgibench.cli.resources:memory_command",
    "report": "asgibench.cli.reports:report_command",
    "chart": "asgibench.cli.reports:chart_command",
    "compare": "asgibench.cli.reports:compare_command",
    "merge": "asgibench.cli.reports:merge_command",
    "db": "asgibench.cli.db:db_command",
    "hosts": "asgibench.cli.hosts:hosts_command",
}


def _name_envvars(command: click.Command) -> None:
    """Every option can also come from the environment, as ASGIBENCH_<COMMAND>_<FLAG>
    (``ASGIBENCH_RUN_DURATION=0.2``, ``ASGIBENCH_RUN_LEVELS=8``): handy in CI, and how
    README's commands are run with a short profile. Named after the flag the user sees,
    not the parameter behind it (``--levels`` is ``levels_spec``). Options with their own
    names (``bench serve``'s ASGIBENCH_PORT, the fields of asgibench.server.Config) and
    flags that choose between values (``--quick``/``--full``) keep theirs."""
    for param in command.params:
        if not isinstance(param, click.Option) or param.envvar is not None:
            continue
        if param.is_flag and not param.is_bool_flag:
            continue
        flag = max(param.opts, key=len).lstrip("-").replace("-", "_").upper()
        param.envvar = f"ASGIBENCH_{(command.name or '').upper()}_{flag}"
        param.show_envvar = True


class _Group(click.Group):
    """Every user mistake is one line, ``bench <cmd>: error: ...``, and exit status 2.
    The commands of :data:`LAZY_COMMANDS` are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            module, attribute = LAZY_COMMANDS[cmd_name].split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _name_envvars(command)
        return command

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help())
            sys.exit(2)
        except click.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx is not None else "bench"
            click.echo(f"{command}: error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("aborted", err=True)
            sys.exit(130)
        except BenchError as exc:
            ctx = click.get_current_context(silent=True)
            command = ctx.command_path if ctx is not None else "bench"
            click.echo(f"{command}: error: {exc}", err=True)
            sys.exit(exc.exit_code)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BenchError as exc:
            # Name the subcommand that failed, not just "bench".
            sub = ctx.invoked_subcommand
            click.echo(f"{ctx.command_path}{' ' + sub if sub else ''}: error: {exc}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="asgibench")
def main() -> None:
    """Benchmark Python event loops x HTTP/1.1 parsers x ASGI servers on this machine."""


main.add_command(serve_command)
main.add_command(loops_command)
main.add_command(protos_command)

__all__ = ["LAZY_COMMANDS", "main"]
