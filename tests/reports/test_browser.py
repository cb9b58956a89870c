"""The HTML report in a real headless browser (Debian's chromium): it renders, offline, and
its ranking tables hold the numbers of the results JSON."""

from __future__ import annotations

import json
import re
import subprocess
from html import unescape
from pathlib import Path

import pytest

from .reportdocs import check_rankings_in_dom, chromium, parse_tables

BROWSER = chromium()
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="chromium is not installed (apt-get install -y chromium)"
)

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--mute-audio",
]


def run_browser(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert BROWSER is not None
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run(
        [BROWSER, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_report_renders_in_chromium(tmp_path: Path, charted_html: tuple[str, dict]) -> None:
    page, doc = charted_html
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    # --dump-dom prints the DOM after the page has loaded and laid out.
    dumped = run_browser(tmp_path, "--dump-dom", path.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = dumped.stdout
    assert "<title>asgibench results</title>" in dom
    check_rankings_in_dom(dom, doc)
    parsed = parse_tables(dom)
    assert any("composite" in attrs.get("class", "") for attrs, _ in parsed.tables)
    assert any("matrix" in attrs.get("class", "") for attrs, _ in parsed.tables)
    assert dom.count("<svg") == 8  # the charts survived parsing
    # ... and it paints: a screenshot of the first tab is written.
    shot = tmp_path / "shot.png"
    painted = run_browser(
        tmp_path, f"--screenshot={shot}", "--window-size=1280,1600", path.as_uri()
    )
    assert painted.returncode == 0, painted.stderr[-2000:]
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20000


#: Appended to a copy of the page by the test (the report itself has no script): where the
#: browser laid out the header, the first ranking and the warnings/environment panels,
#: and whether the header's warnings line opens the warnings tab.
LAYOUT_PROBE = """<script>
const box = (el) => el ? el.getBoundingClientRect() : null;
const shown = (sel) => getComputedStyle(document.querySelector(sel)).display !== "none";
const table = document.querySelector("table.ranking");
const layout = {
  viewport: window.innerHeight,
  header: box(document.querySelector("header")).bottom,
  ranking_top: box(table).top, ranking_bottom: box(table).bottom,
  ranking_rows: table.querySelectorAll("tbody tr").length,
  ranking_test: table.dataset.test,
  warnings_shown: shown("#panel-warnings"), environment_shown: shown("#panel-runs"),
};
document.querySelector("header label[for=tab-warnings]").click();
layout.warnings_after_click = shown("#panel-warnings");
layout.ranking_after_click = table.offsetParent !== null;
document.body.setAttribute("data-layout", JSON.stringify(layout));
</script>"""


def _layout(tmp_path: Path, count: int) -> tuple[dict, str]:
    """(where chromium laid the report of ``count`` runs out, the dumped DOM)."""
    from asgibench.reports import html, load, model

    from . import reportdocs

    work = tmp_path / f"runs{count}"
    work.mkdir()
    paths = []
    for i in range(count):
        doc = reportdocs.document(
            repeats=1, scale=1.0 - 0.1 * i, created=f"2026-11-23T10:{i:02d}:00Z"
        )
        doc["environment"]["git"].update(dirty=True, diff_sha256="same")  # one change: pooled
        paths.append(reportdocs.write(doc, work / f"run{i}.json"))
    page = html.render(model.build(load.load(paths)), charts=False)
    probe = work / "probe.html"
    probe.write_text(page.replace("</body>", LAYOUT_PROBE + "</body>"), encoding="utf-8")
    dumped = run_browser(work, "--window-size=1280,1600", "--dump-dom", probe.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    found = re.search(r'data-layout="([^"]+)"', dumped.stdout)
    assert found, dumped.stdout[-2000:]
    return json.loads(unescape(found.group(1))), dumped.stdout


def test_three_runs_rank_first_one_row_per_configuration(tmp_path: Path) -> None:
    """Three runs of the same configurations: the first screen (1280x1600) shows the whole
    first ranking, one row per configuration, as high up as one run's report does; the
    warnings and the environment are in tabs of their own, after it."""
    layout, dom = _layout(tmp_path, 3)
    single, _ = _layout(tmp_path, 1)
    assert layout["ranking_test"] == "plaintext"
    assert layout["ranking_rows"] == single["ranking_rows"] == 6  # not 18: pooled
    # The header does not grow with the files: one more line says the runs were pooled.
    assert layout["header"] <= single["header"] + 5
    assert layout["ranking_top"] <= single["ranking_top"] + 60
    assert layout["ranking_bottom"] <= layout["viewport"]  # all of it on the first screen
    assert not layout["warnings_shown"] and not layout["environment_shown"]
    assert layout["warnings_after_click"] and not layout["ranking_after_click"]
    # ... and in the document, the ranking comes before the warnings and the environment.
    assert (
        dom.index('class="ranking"')
        < dom.index('id="panel-warnings"')
        < dom.index('id="panel-runs"')
    )
