"""`benchmarks/real_project.py` on the game server fixture as the "real project": a mirror with the crashing
parent and the fixing commit, a case folder with a real gdb crash, a recipe; cold then warm, scripted model."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, require_tools
from tests.fixer.test_fix_e2e import NULL_CHECK

pytestmark = pytest.mark.tools
ROOT = Path(__file__).resolve().parents[1]

RECIPE = """\
[project]
name = "worldserver"
repository = "acme/worldserver"
notes = ["the test game server stands in for a real project"]

[fix]
build = [["cmake", "-S", "{checkout}", "-B", "{build_dir}"], ["cmake", "--build", "{build_dir}", "--parallel", "{jobs}"]]
test = [["ctest", "--test-dir", "{build_dir}", "--output-on-failure"]]
build_dir = "{work}/builds"
"""


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=dev", "-c", "user.email=dev@example.com", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout.strip()


def test_cold_then_warm_replays_the_developers_fix_and_says_so(crash_text: str, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    require_tools("git", "cmake", "ctest")
    seed = tmp_path / "seed"
    shutil.copytree(FIXTURES / "gameserver", seed)
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", ".")
    git(seed, "commit", "-q", "-m", "the server crashes on a player without a target")
    parent = git(seed, "rev-parse", "HEAD")
    player = seed / "src" / "Player.cpp"
    player.write_text(player.read_text().replace(NULL_CHECK["old_text"], NULL_CHECK["new_text"]))
    git(seed, "commit", "-q", "-am", "Fix the crash on a player without a target")
    fix = git(seed, "rev-parse", "HEAD")
    mirror = tmp_path / "mirror.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(mirror)], check=True)
    case = tmp_path / "case"
    case.mkdir()
    (case / "case.json").write_text(json.dumps({
        "repo": "acme/worldserver", "issue": 1, "parent_commit": parent, "fix_commit": fix,
        "fix_subject": "Fix the crash on a player without a target", "fixed_files": ["src/Player.cpp"],
        "fixed_functions": ["Player::Update"]}))
    (case / "crash.txt").write_text(crash_text)
    recipe = tmp_path / "worldserver.toml"
    recipe.write_text(RECIPE)

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import real_project
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    assert real_project.main(["--mirror", str(mirror), "--case", str(case), "--recipe", str(recipe),
                              "--work", str(tmp_path / "work"), "--runs", "cold,warm", "--jobs", "2",
                              "--scripted"]) == 0
    said = capsys.readouterr().out
    assert "model: scripted" in said and "jobs 2 on" in said and "load average" in said
    assert "round 1 slip: target -> target_ in src/Player.cpp" in said
    assert re.search(r"error src/Player\.cpp:\d+: .*target_", said)  # the real diagnostic, repo-relative
    assert "Build folder: new worldserver-" in said and "Build folder: reused worldserver-" in said
    assert said.count(f"fixed files equal to the developers' fix {fix[:12]}: {{'src/Player.cpp': True}}") == 2
    assert "score: fixed functions touched: Player::Update" in said
    rows = re.findall(r"^  (cold|warm) +[\d.]+ +[\d.]+ .* (True|False)$", said, re.MULTILINE)
    assert rows == [("cold", "True"), ("warm", "True")]
