"""The HTML report in a real headless browser (Debian's chromium): it renders, offline, and
its ranking tables hold the numbers of the results JSON."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .reportdocs import check_rankings_in_dom, chromium, parse_tables

BROWSER = chromium()
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="chromium is not installed (apt-get install -y chromium)")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-dev-shm-usage", "--mute-audio"]


def run_browser(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert BROWSER is not None
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run([BROWSER, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=60, check=False)


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
    painted = run_browser(tmp_path, f"--screenshot={shot}", "--window-size=1280,1600",
                          path.as_uri())
    assert painted.returncode == 0, painted.stderr[-2000:]
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20000
