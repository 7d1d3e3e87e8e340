"""The same crash posted twice, cut at different points, lands on one issue; look-alikes do not."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crashfix.issues.record import find_signature, parse_record
from tests.fakes.github_server import FakeGitHub
from tests.uploader.helpers import make_uploader

FULL = """Program terminated with signal SIGSEGV, Segmentation fault.
#0  0x000055d1c2a1b2c3 in Aura::HandleAuraSpecificMods (this=0x7f1, aurApp=0x7f2) at /srv/src/game/SpellAuras.cpp:1402
#1  0x000055d1c2a1b3d4 in Aura::ApplyForTargets (this=0x7f1) at /srv/src/game/SpellAuras.cpp:645
#2  0x000055d1c2a1c4e5 in Unit::_ApplyAura (this=0x7f3, aurApp=0x7f2, effMask=1) at /srv/src/game/Unit.cpp:3311
#3  0x000055d1c2a1d5f6 in Unit::_AddAura (this=0x7f3, aura=0x7f1) at /srv/src/game/Unit.cpp:3201
"""


@pytest.fixture()
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(owner="acme", repo="worldserver") as fake:
        yield fake


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    old = time.time() - 120  # written a while ago: complete, whatever its stack looks like
    os.utime(path, (old, old))


def crash_issues(fake: FakeGitHub) -> list[dict]:
    return [issue for issue in fake.issues.values() if find_signature(issue.get("body")) is not None]


def test_a_report_cut_short_counts_on_the_issue_of_the_full_crash(github: FakeGitHub, tmp_path: Path) -> None:
    crashes = tmp_path / "crashes"
    write(crashes, "full.txt", FULL)
    uploader = make_uploader(tmp_path / "state", github.url)
    assert uploader.run_once([crashes])[0] == 0
    write(crashes, "cut.txt", FULL.split("#2")[0] + "#2  0x000055d1c2a1c4e5 in Unit::_ApplyA")
    assert uploader.run_once([crashes])[0] == 0
    [issue] = crash_issues(github)
    assert parse_record(issue["body"]).occurrences == 2  # type: ignore[union-attr]


def test_a_report_cut_short_first_then_the_full_one_is_still_one_issue(github: FakeGitHub, tmp_path: Path) -> None:
    crashes = tmp_path / "crashes"
    write(crashes, "cut.txt", FULL.split("#2")[0])
    write(crashes, "zfull.txt", FULL)
    uploader = make_uploader(tmp_path / "state", github.url)
    assert uploader.run_once([crashes])[0] == 0
    [issue] = crash_issues(github)
    assert parse_record(issue["body"]).occurrences == 2  # type: ignore[union-attr]


def test_a_look_alike_with_another_top_frame_gets_its_own_issue(github: FakeGitHub, tmp_path: Path) -> None:
    crashes = tmp_path / "crashes"
    write(crashes, "full.txt", FULL)
    write(crashes, "other.txt", FULL.replace("HandleAuraSpecificMods", "HandleAuraModScale"))
    uploader = make_uploader(tmp_path / "state", github.url)
    assert uploader.run_once([crashes])[0] == 0
    assert len(crash_issues(github)) == 2


def test_grouping_survives_a_lost_spool(github: FakeGitHub, tmp_path: Path) -> None:
    """The grouping target is read back from GitHub: a fresh spool still finds the full crash's issue."""
    crashes = tmp_path / "crashes"
    write(crashes, "full.txt", FULL)
    assert make_uploader(tmp_path / "state", github.url).run_once([crashes])[0] == 0
    other = tmp_path / "other-crashes"
    write(other, "cut.txt", FULL.split("#2")[0])
    assert make_uploader(tmp_path / "fresh-state", github.url).run_once([other])[0] == 0
    [issue] = crash_issues(github)
    assert parse_record(issue["body"]).occurrences == 2  # type: ignore[union-attr]
