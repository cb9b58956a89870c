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


def test_options_come_from_the_environment_named_after_their_flag() -> None:
    """ASGIBENCH_<COMMAND>_<FLAG>: named after the flag the user types (--levels, whose
    parameter is levels_spec), shown in --help; the command line still wins; flags that
    pick a profile have none."""
    from click.testing import CliRunner

    from asgibench.cli import main

    runner = CliRunner()
    help_text = runner.invoke(main, ["run", "--help"], terminal_width=200).output
    assert "ASGIBENCH_RUN_LEVELS" in help_text and "ASGIBENCH_RUN_DURATION" in help_text
    assert "ASGIBENCH_RUN_FULL" not in help_text and "ASGIBENCH_RUN_QUICK" not in help_text
    # An environment value is used, and a bad one is reported like the flag it stands for.
    bad = runner.invoke(main, ["run", "--show", "x.json"],
                        env={"ASGIBENCH_RUN_REPEAT": "0"})
    assert bad.exit_code == 2 and "--repeat" in bad.output
    # The command line wins over the environment: the bad value is never read.
    good = runner.invoke(main, ["run", "--repeat", "2", "--show", "x.json"],
                         env={"ASGIBENCH_RUN_REPEAT": "0"})
    assert good.exit_code == 2 and "--repeat" not in good.output and "x.json" in good.output
