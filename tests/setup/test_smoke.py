"""The smoke test of a new host: `crashfix file --example --dry-run` (nothing written, GitHub not asked),
then `crashfix file --example` for real against the fake GitHub."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.github_server import FakeGitHub
from tests.setup import helpers
from tests.uploader.helpers import REPO, TOKEN


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str],
        **env: str) -> tuple[int, str]:
    code, out, err = helpers.run(monkeypatch, capsys, args, **env)
    return code, out + err


def test_dry_run_then_for_real(github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    code, said = run(monkeypatch, capsys, ["file", "--example", "--dry-run", "--repo", REPO],
                     GITHUB_API_URL=github.url)  # no token needed: nothing is sent
    assert code == 0, said
    assert said.startswith("dry run: nothing is written, GitHub is not asked (worldserver-null-target.gdb.txt)")
    assert "signature  " in said and "[good]" in said
    assert ("would file into acme/worldserver: 'Crash: Segmentation fault in Unit::GetHealth (Unit.cpp:9)', "
            "labels crash") in said
    assert github.requests == [] and not (tmp_path / "state").exists()

    code, said = run(monkeypatch, capsys, ["file", "--example", "--repo", REPO], GITHUB_TOKEN=TOKEN)
    assert code == 0, said
    assert "filed worldserver-null-target.gdb.txt as issue #1" in said
    assert [issue["title"] for issue in github.issues.values()] == [
        "Crash: Segmentation fault in Unit::GetHealth (Unit.cpp:9)"]


def test_a_dry_run_says_why_nothing_would_be_filed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("the server restarted at 05:00\n")
    code, said = run(monkeypatch, capsys, ["file", str(junk), "--dry-run"])
    assert code == 3 and "notes.txt would not be filed: notes.txt: not a crash report" in said
    assert len(said.strip().splitlines()) == 1
    code, said = run(monkeypatch, capsys, ["file", "--dry-run"])
    assert code == 2 and "give one crash file, or --example" in said
