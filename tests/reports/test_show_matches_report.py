"""``bench run --show FILE`` and ``bench report FILE --format md`` rank alike.

For every committed results file (``reference/*.json``; ``reference/cost/`` and
``reference/memory/`` hold other documents) and every fixture results file, both
commands run in-process; their rank tables are parsed (the terminal tables of
:mod:`asgibench.reports.terminal`, the Markdown tables of
:mod:`asgibench.reports.markdown`) and must hold the same rows: per test type (rank,
server, loop, parser, req/s as displayed), and the composite (rank, server, loop,
parser, score to 3 decimals). The parsers are strict: a row they cannot read, a table
without its title, or a truncated cell fails the test; the self-checks at the end show a
reordered, re-ranked or re-scored table is caught.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from asgibench.cli import main


def _repo_root() -> Path:
    here = Path(__file__).resolve().parent
    for parent in (here, *here.parents):
        if (parent / "pyproject.toml").is_file() and (parent / "reference").is_dir():
            return parent
    raise RuntimeError(f"no asgibench checkout above {here}")


REPO = _repo_root()
FIXTURES = Path(__file__).resolve().parent / "fixtures"
def results_files() -> list[Path]:
    committed = sorted((REPO / "reference").glob("*.json"))
    return committed + sorted(FIXTURES.glob("*.json"))


RESULTS_FILES = results_files()

#: (rank, server, loop, parser, req/s as displayed)
Row = tuple[int, str, str, str, str]
#: (rank, server, loop, parser, score rounded to 3 decimals)
CompositeRow = tuple[int, str, str, str, float]


@dataclass
class Tables:
    rankings: dict[str, list[Row]] = field(default_factory=dict)
    composite: list[CompositeRow] = field(default_factory=list)


class ParseError(AssertionError):
    pass


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_RPS = r"\d{1,3}(?:,\d{3})*"


# -- the terminal tables (asgibench/reports/terminal.py) ----------------------------------

TERM_HEADER = ["#", "server", "loop", "parser", "req/s", "±", "%best", "p99", "errors",
               "conc", "flags"]
#: The same with the resource columns, printed when the run sampled the server's CPU and
#: memory (every run since they were measured).
TERM_HEADER_RESOURCES = [*TERM_HEADER[:8], "cpu", "ms/req", "peak", "MiB", *TERM_HEADER[8:]]
TERM_COMPOSITE_HEADER = ["rank", "server", "loop", "parser", "score"]
TERM_TITLE = re.compile(r"^(?P<test>\S+) · (?:concurrency|queries)\b")
TERM_UNRANKED = re.compile(
    r"^(?P<test>\S+) · (?:concurrency|queries)\b.*: no combination was ranked$")
_FLAG = r"(?:client-bound|≈next)"
TERM_ROW = re.compile(
    rf"^\s*(?P<rank>\d+)\s+(?P<server>\S+)\s+(?P<loop>\S+)\s+(?P<parser>\S+)"
    rf"\s+(?P<rps>{_RPS})\s+(?:\d+%|-)\s+\d+%\s+(?:\d+(?:\.\d+)? m?s|-)"
    rf"(?:\s+(?:\d+(?:\.\d+)?|-)\s+(?:\d+(?:\.\d+)?|-))?"  # cpu ms/req, peak MiB
    rf"\s+\d+\s+\d+(?:\s+{_FLAG}(?: {_FLAG})*)?$")
TERM_COMPOSITE_ROW = re.compile(
    r"^\s*(?P<rank>\d+)\s+(?P<server>\S+)\s+(?P<loop>\S+)\s+(?P<parser>\S+)"
    r"\s+(?P<score>\d+\.\d{3})$")


def _table_rows(lines: list[str], start: int, what: str) -> Iterator[tuple[int, str]]:
    """The rows of a rich SIMPLE_HEAD table whose header is ``lines[start]``: after the
    rule, up to the first blank line."""
    rule = lines[start + 1].strip() if start + 1 < len(lines) else ""
    if not rule or set(rule) != {"─"}:
        raise ParseError(f"{what}: no rule under the header (line {start + 2}): {rule!r}")
    for number in range(start + 2, len(lines)):
        if not lines[number].strip():
            return
        yield number, lines[number]
    raise ParseError(f"{what}: table not closed by a blank line")


def parse_terminal(text: str) -> Tables:
    text = _ANSI.sub("", text)
    if "…" in text:
        raise ParseError("the terminal output has truncated (…) cells")
    lines = [line.rstrip() for line in text.splitlines()]
    tables = Tables()
    title: str | None = None
    composite_title = False
    composite_seen = False
    for number, line in enumerate(lines):
        unranked = TERM_UNRANKED.match(line)
        if unranked:
            test = unranked["test"]
            if test in tables.rankings:
                raise ParseError(f"line {number + 1}: test {test} printed twice")
            tables.rankings[test] = []
            continue
        titled = TERM_TITLE.match(line)
        if titled:
            title = titled["test"]
            continue
        if line.startswith("composite ("):
            composite_title = True
            continue
        words = line.split()
        if words in (TERM_HEADER, TERM_HEADER_RESOURCES):
            if title is None:
                raise ParseError(f"line {number + 1}: a rank table without its title")
            if title in tables.rankings:
                raise ParseError(f"line {number + 1}: test {title} printed twice")
            rows: list[Row] = []
            for row_number, row in _table_rows(lines, number, title):
                match = TERM_ROW.match(row)
                if not match:
                    raise ParseError(f"{title}: unreadable row (line {row_number + 1}): "
                                     f"{row!r}")
                rows.append((int(match["rank"]), match["server"], match["loop"],
                             match["parser"], match["rps"]))
            tables.rankings[title] = rows
            title = None
        elif words == TERM_COMPOSITE_HEADER:
            if not composite_title or composite_seen:
                raise ParseError(f"line {number + 1}: an unexpected composite table")
            composite_seen = True
            for row_number, row in _table_rows(lines, number, "composite"):
                match = TERM_COMPOSITE_ROW.match(row)
                if not match:
                    raise ParseError(f"composite: unreadable row (line {row_number + 1}): "
                                     f"{row!r}")
                tables.composite.append((int(match["rank"]), match["server"], match["loop"],
                                         match["parser"], round(float(match["score"]), 3)))
    if composite_title and not composite_seen:
        raise ParseError("a composite title without its table")
    return tables


# -- the Markdown tables (asgibench/reports/markdown.py) ----------------------------------

MD_UNRANKED = "_No configuration was ranked._"


def _cells(line: str) -> list[str]:
    line = line.strip()
    if not (line.startswith("|") and line.endswith("|") and not line.endswith("\\|")):
        raise ParseError(f"not a Markdown table row: {line!r}")
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line[1:-1])]


def _md_tables(lines: list[str]) -> list[tuple[int, list[str], list[list[str]]]]:
    """(line number, header, rows) of each table of a section."""
    tables = []
    number = 0
    while number < len(lines):
        if not lines[number].startswith("|"):
            number += 1
            continue
        header = _cells(lines[number])
        delimiter = _cells(lines[number + 1]) if number + 1 < len(lines) else []
        if len(delimiter) != len(header) or not all(
                re.fullmatch(r":?-{3,}:?", d) for d in delimiter):
            raise ParseError(f"a table without its delimiter row: {lines[number]!r}")
        rows = []
        end = number + 2
        while end < len(lines) and lines[end].startswith("|"):
            row = _cells(lines[end])
            if len(row) != len(header):
                raise ParseError(f"{len(row)} cells under {len(header)} headers: "
                                 f"{lines[end]!r}")
            rows.append(row)
            end += 1
        tables.append((number, header, rows))
        number = end
    return tables


def _md_field(header: list[str], row: list[str], name: str, pattern: str) -> str:
    value = row[header.index(name)]
    if not re.fullmatch(pattern, value):
        raise ParseError(f"column {name!r}: unexpected {value!r} in {row}")
    return value


def parse_markdown(text: str) -> Tables:
    sections: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("## "):
            sections.append((line[3:].strip(), []))
        elif sections:
            sections[-1][1].append(line)
    tables = Tables()
    composite_seen = False
    for heading, lines in sections:
        found = _md_tables(lines)
        ranked = [(h, rows) for _, h, rows in found if h[:1] == ["rank"] and "req/s" in h]
        if heading == "Composite":
            scored = [(h, rows) for _, h, rows in found if h[:1] == ["rank"] and "score" in h]
            if len(scored) != 1 or ranked or composite_seen:
                raise ParseError(f"the Composite section holds {len(scored)} score tables")
            composite_seen = True
            header, rows = scored[0]
            for row in rows:
                tables.composite.append((
                    int(_md_field(header, row, "rank", r"\d+")),
                    _md_field(header, row, "server", r"\S+"),
                    _md_field(header, row, "loop", r"\S+"),
                    _md_field(header, row, "parser", r"\S+"),
                    round(float(_md_field(header, row, "score", r"\d+\.\d{3}")), 3)))
            continue
        unranked = MD_UNRANKED in lines
        if not ranked and not unranked:
            continue  # environment, loop x parser matrices, unsupported
        test = heading.split(" · ")[0]
        if len(ranked) + unranked != 1:
            raise ParseError(f"section {heading!r}: {len(ranked)} rank tables"
                             + (" and 'no configuration was ranked'" if unranked else ""))
        if test in tables.rankings:
            raise ParseError(f"test {test} has two sections")
        tables.rankings[test] = []
        for header, rows in ranked:
            for row in rows:
                tables.rankings[test].append((
                    int(_md_field(header, row, "rank", r"\d+")),
                    _md_field(header, row, "server", r"\S+"),
                    _md_field(header, row, "loop", r"\S+"),
                    _md_field(header, row, "parser", r"\S+"),
                    _md_field(header, row, "req/s", _RPS)))
    return tables


# -- comparing ----------------------------------------------------------------------------


def differences(terminal: Tables, markdown: Tables) -> list[str]:
    out = []
    if set(terminal.rankings) != set(markdown.rankings):
        out.append(f"test types: terminal {sorted(terminal.rankings)}, "
                   f"Markdown {sorted(markdown.rankings)}")
    for test in sorted(set(terminal.rankings) & set(markdown.rankings)):
        out += _diff_rows(test, terminal.rankings[test], markdown.rankings[test])
    out += _diff_rows("composite", terminal.composite, markdown.composite)
    return out


def _diff_rows(what: str, terminal: list, markdown: list) -> list[str]:
    out = []
    if len(terminal) != len(markdown):
        out.append(f"{what}: {len(terminal)} rows in the terminal, {len(markdown)} in the "
                   f"Markdown")
    for number, (a, b) in enumerate(zip(terminal, markdown, strict=False), 1):
        if a != b:
            out.append(f"{what} row {number}: terminal {a} != Markdown {b}")
    return out


# -- running the commands -----------------------------------------------------------------

#: Wide, plain output: no wrapped tables, no colour codes.
ENV = {"COLUMNS": "200", "LINES": "50", "FORCE_COLOR": None, "TTY_COMPATIBLE": None,
       "TTY_INTERACTIVE": None, "NO_COLOR": "1"}


def bench(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), env=ENV, catch_exceptions=False)
    assert result.exit_code == 0, (f"bench {' '.join(args)}: exit {result.exit_code}\n"
                                   f"{result.output}")
    assert not result.stderr, f"bench {' '.join(args)}: stderr:\n{result.stderr}"
    return result.stdout


def outputs(path: Path) -> tuple[str, str]:
    return bench("run", "--show", str(path)), bench("report", str(path), "--format", "md")


def _label(path: Path) -> str:
    return str(path.relative_to(REPO))


# -- the tests ----------------------------------------------------------------------------


def test_there_are_results_files() -> None:
    names = {p.name for p in RESULTS_FILES}
    assert {"reference.json", "real-quick.json", "sample.json"} <= names, names


@pytest.mark.parametrize("path", RESULTS_FILES, ids=_label)
def test_show_and_report_rank_alike(path: Path) -> None:
    shown, reported = outputs(path)
    terminal, markdown = parse_terminal(shown), parse_markdown(reported)
    tests = json.loads(path.read_text(encoding="utf-8"))["settings"]["tests"]
    # Guards against parsers that silently find nothing.
    assert set(terminal.rankings) == set(tests), (
        f"{_label(path)}: terminal tables for {sorted(terminal.rankings)}, file has "
        f"{tests}\n{shown}")
    assert any(terminal.rankings.values()), f"{_label(path)}: no ranked row read\n{shown}"
    if len([t for t in tests if terminal.rankings[t]]) >= 2:
        assert terminal.composite, f"{_label(path)}: no composite read\n{shown}"
    diff = differences(terminal, markdown)
    assert not diff, (f"{_label(path)}: bench run --show and bench report --format md "
                      f"disagree:\n" + "\n".join(diff))


# -- self-checks: a disagreement is caught ------------------------------------------------


@pytest.fixture(scope="module")
def sample_outputs() -> tuple[str, str]:
    """Both outputs for the fixture with a composite and two tests of several rows."""
    return outputs(FIXTURES / "sample.json")


def _ranking_lines(text: str) -> list[int]:
    """Indices of the Markdown ranking rows of the first test section."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| rank |")
                 and "req/s" in line)
    end = start + 2
    while lines[end].startswith("|"):
        end += 1
    return list(range(start + 2, end))


def test_self_check_the_outputs_agree(sample_outputs: tuple[str, str]) -> None:
    shown, reported = sample_outputs
    assert differences(parse_terminal(shown), parse_markdown(reported)) == []


def test_self_check_a_reordered_markdown_table_is_caught(
        sample_outputs: tuple[str, str]) -> None:
    shown, reported = sample_outputs
    lines = reported.splitlines()
    first, second = _ranking_lines(reported)[:2]
    # Swap the configurations of rows 1 and 2, keeping their ranks and figures.
    a, b = _cells(lines[first]), _cells(lines[second])
    a[1:4], b[1:4] = b[1:4], a[1:4]
    lines[first] = "| " + " | ".join(a) + " |"
    lines[second] = "| " + " | ".join(b) + " |"
    diff = differences(parse_terminal(shown), parse_markdown("\n".join(lines)))
    assert len(diff) == 2 and all(" row 1: " in d or " row 2: " in d for d in diff), diff


def test_self_check_a_reranked_terminal_table_is_caught(
        sample_outputs: tuple[str, str]) -> None:
    shown, reported = sample_outputs
    lines = shown.splitlines()
    # Rank 2 printed as rank 3 in the terminal's first table.
    row = next(i for i, line in enumerate(lines) if re.match(r"^\s*2\s+\S+\s+\S+", line))
    lines[row] = re.sub(r"^(\s*)2(\s)", r"\g<1>3\2", lines[row])
    diff = differences(parse_terminal("\n".join(lines)), parse_markdown(reported))
    assert len(diff) == 1 and " row 2: terminal (3, " in diff[0], diff


def test_self_check_a_composite_score_is_compared(sample_outputs: tuple[str, str]) -> None:
    shown, reported = sample_outputs
    terminal, markdown = parse_terminal(shown), parse_markdown(reported)
    assert terminal.composite and terminal.composite == markdown.composite
    rank, server, loop, parser, score = markdown.composite[-1]
    markdown.composite[-1] = (rank, server, loop, parser, round(score + 0.001, 3))
    assert differences(terminal, markdown) == [
        f"composite row {len(terminal.composite)}: terminal {terminal.composite[-1]} "
        f"!= Markdown {markdown.composite[-1]}"]


def test_self_check_a_missing_row_and_unreadable_rows_are_caught(
        sample_outputs: tuple[str, str]) -> None:
    shown, reported = sample_outputs
    lines = reported.splitlines()
    del lines[_ranking_lines(reported)[-1]]
    diff = differences(parse_terminal(shown), parse_markdown("\n".join(lines)))
    assert any("rows in the terminal" in d for d in diff), diff
    # A row the parser cannot read fails rather than being skipped.
    broken = re.sub(r"(?m)^(\s*1\s+\S+\s+\S+\s+\S+\s+)[\d,]+", r"\g<1>fast", shown, count=1)
    assert broken != shown
    with pytest.raises(ParseError, match="unreadable row"):
        parse_terminal(broken)
    # A table that wrapped or truncated its cells fails too.
    with pytest.raises(ParseError, match="truncated"):
        parse_terminal(shown.replace("asgibench", "asgib…", 1))
