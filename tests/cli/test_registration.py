"""``bench`` exposes report, chart, compare and merge (asgibench.cli.reports)."""

from __future__ import annotations

import click

from asgibench.cli import main
from asgibench.cli import reports as cli


def test_the_report_commands_are_click_commands() -> None:
    for command, name in ((cli.report_command, "report"), (cli.chart_command, "chart"),
                          (cli.compare_command, "compare"), (cli.merge_command, "merge")):
        assert isinstance(command, click.Command) and command.name == name


def test_registered_in_bench() -> None:
    ctx = click.Context(main)
    for name in ("report", "chart", "compare", "merge"):
        assert name in main.list_commands(ctx)
        assert main.get_command(ctx, name) is getattr(cli, f"{name}_command")
