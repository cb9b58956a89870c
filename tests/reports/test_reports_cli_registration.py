"""The lead's ``bench`` CLI exposes report, chart and compare (once registered)."""

from __future__ import annotations

import click
import pytest

from asgibench.reports import cli


def test_the_three_commands_are_click_commands() -> None:
    for command, name in ((cli.report_command, "report"), (cli.chart_command, "chart"),
                          (cli.compare_command, "compare")):
        assert isinstance(command, click.Command) and command.name == name


def test_registered_in_bench() -> None:
    from asgibench.cli import main

    missing = {"report", "chart", "compare"} - set(main.commands)
    if missing:
        pytest.skip(f"asgibench.cli does not register {sorted(missing)} yet")
    assert main.commands["compare"] is cli.compare_command
