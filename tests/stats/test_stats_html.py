"""`crashfix stats --html` opened in a real headless browser (Debian's chromium): screenshot and rendered numbers."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from crashfix.cli import main
from tests.conftest import require_tools
from tests.fakes.github_server import FakeGitHub
from tests.stats.test_stats import github, history  # noqa: F401 - the fixture and the seeded history
from tests.uploader.helpers import REPO

BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--hide-scrollbars", "--window-size=1100,2400"]


def browser() -> str:
    """Debian's chromium (what .ci/run installs); other spellings of Chromium/Chrome where that is what exists."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    require_tools("chromium")  # skips, or fails under CRASHFIX_REQUIRE_TOOLS=1
    raise AssertionError("unreachable")


def run_browser(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # Its own profile folder: a test never touches (or waits on) a user's browser profile.
    profile = cwd / "chromium-profile"
    return subprocess.run([browser(), *BROWSER_FLAGS, f"--user-data-dir={profile}", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


class Page(HTMLParser):
    """The rendered DOM as the test needs it: figure values by key, chart bars, top-signature rows."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, str] = {}
        self.bars: dict[str, list[tuple[str, int]]] = {}
        self.top: list[tuple[int, int]] = []
        self._row: str | None = None
        self._cell: str | None = None
        self._chart: str | None = None
        self._issue: int | None = None
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.add(tag)
        if tag == "tr" and found.get("data-key"):
            self._row = found["data-key"]
        if tag == "tr" and found.get("data-issue"):
            self._issue = int(found["data-issue"] or 0)
        if tag == "td":
            self._cell = found.get("class")
        if tag == "svg" and found.get("id"):
            self._chart = found["id"]
            self.bars[self._chart or ""] = []
        if tag == "g" and found.get("data-count") is not None and self._chart:
            self.bars[self._chart].append((found.get("data-label") or "", int(found["data-count"] or 0)))

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._row = self._issue = None
        if tag == "td":
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._row and self._cell == "value":
            self.figures[self._row] = self.figures.get(self._row, "") + data
        if self._issue is not None and self._cell == "occurrences":
            self.top.append((self._issue, int(data)))


def png_size_and_colours(path: Path) -> tuple[int, int, int]:
    """Width, height and how many distinct byte values the pixels hold (a blank page has very few)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    chunks, position = [], 8
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        if kind == b"IDAT":
            chunks.append(data[position + 8:position + 8 + length])
        position += 12 + length
    pixels = zlib.decompress(b"".join(chunks))
    return width, height, len(set(pixels))


def test_the_page_renders_in_chromium_with_the_hand_counted_numbers(
        github: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    browser()
    n = history(github)
    page = tmp_path / "stats.html"
    assert main(["stats", "--repo", REPO, "--html", str(page)]) == 0, capsys.readouterr().err
    html = page.read_text(encoding="utf-8")
    # Self-contained: nothing to load, and the browser is told to load nothing.
    assert "default-src 'none'" in html and not re.search(r"<(script|link|img|iframe)\b|\bsrc=", html)

    shot = run_browser(f"--screenshot={tmp_path / 'stats.png'}", page.as_uri(), cwd=tmp_path)
    assert (tmp_path / "stats.png").is_file(), shot.stderr[-2000:]
    width, height, colours = png_size_and_colours(tmp_path / "stats.png")
    assert (width, height) == (1100, 2400) and colours > 20  # drawn, not a blank page

    dom = run_browser("--dump-dom", page.as_uri(), cwd=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = Page()
    rendered.feed(dom.stdout)
    assert rendered.figures["occurrences"] == "74 occurrences, 8 distinct signatures"
    assert rendered.figures["autonomous"] == "4/7 processed issues (57%)"
    assert rendered.figures["crash-to-pr"] == "median 20 min, p90 2.0 h over 5 issues"
    assert rendered.figures["fix-success"] == "2/3 decided PRs (67%)"
    assert rendered.figures["pulls"] == "2 merged, 1 closed unmerged, 2 open"
    assert rendered.figures["cost"] == "median $0.42 over 5 fixes; total $3.57 over 7 processed issues"
    assert rendered.bars["chart-daily"] == [("2026-10-01", 30), ("2026-10-02", 22), ("2026-10-03", 5),
                                            ("2026-10-04", 10), ("2026-10-05", 2), ("2026-10-06", 5)]
    # 4 min | 10, 20 min | 40 min | 2 h
    assert dict(rendered.bars["chart-crash-to-pr"]) == {"< 5 min": 1, "5–15 min": 1, "15–30 min": 1,
                                                        "30–60 min": 1, "1–4 h": 1, "4–24 h": 0, "> 1 day": 0}
    assert rendered.bars["chart-outcomes"] == [("PR merged", 2), ("PR open", 2), ("PR closed unmerged", 1),
                                               ("Needs a human", 2), ("Not processed", 1)]
    assert rendered.top[:2] == [(n["A"], 40), (n["B"], 12)]
    assert "script" not in rendered.tags
