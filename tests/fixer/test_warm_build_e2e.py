"""`crashfix fix --local` twice with `[fix] build_dir`: the second run reuses the folder and compiles only the
edited file, and the outcome (--json, the job summary, the PR body) says how long building and testing took."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crashfix.fixer.models import FixOutcome
from crashfix.fixer.report import pr_body
from tests.fakes.anthropic_server import FakeAnthropic, Turn, tool_use
from tests.fixer.helpers import FIX_CONFIG, fix_environment, game_repository, git, run_cli
from tests.fixer.test_fix_e2e import FIXED, NULL_CHECK

pytestmark = pytest.mark.tools


def config(builds: Path) -> str:
    return (FIX_CONFIG
            .replace('"-B", "build"', '"-B", "{build_dir}"')
            .replace('["cmake", "--build", "build"', '["cmake", "--build", "{build_dir}"')
            .replace('"--test-dir", "build"', '"--test-dir", "{build_dir}"')
            .replace("repair_rounds = 3", f"repair_rounds = 3\nbuild_dir = {json.dumps(builds.as_posix())}"))


def fix(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], checkout: Path, crash: Path,
        env: dict[str, str]) -> FixOutcome:
    capsys.readouterr()
    code = run_cli(monkeypatch, ["fix", "--local", "--report", str(crash), "--checkout", str(checkout), "--json"], env)
    assert code == 0
    return FixOutcome.model_validate_json(capsys.readouterr().out)


def compiled(outcome: FixOutcome, round_number: int) -> list[str]:
    steps = [s for r in outcome.rounds if r.round == round_number for s in r.steps if s.phase == "build"]
    words = " ".join(step.output_tail for step in steps).split()
    return sorted({word.rsplit("/", 1)[-1] for word in words if word.endswith(".cpp.o")})


def test_a_second_run_reuses_the_build_folder_and_the_outcome_splits_the_time(
        anthropic: FakeAnthropic, crash_text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    builds = tmp_path / "builds"
    _, checkout = game_repository(tmp_path, config(builds))
    crash = tmp_path / "crash.txt"
    crash.write_text(crash_text)
    summary = tmp_path / "summary.md"
    env = fix_environment(None, anthropic.url, tmp_path, GITHUB_STEP_SUMMARY=str(summary))
    typo = {**NULL_CHECK, "new_text": NULL_CHECK["new_text"].replace("(!target)", "(!targett)")}

    def repair(request: dict[str, Any]) -> Turn:
        return Turn([tool_use("edit", {"path": "src/Player.cpp", "old_text": "if (!targett)",
                                       "new_text": "if (!target)"}), tool_use("finish", FIXED)])

    anthropic.enqueue(Turn([tool_use("edit", typo), tool_use("finish", FIXED)]), repair)
    first = fix(monkeypatch, capsys, checkout, crash, env)
    assert first.status == "local" and len(first.rounds) == 2
    assert first.build_folder is not None and first.build_folder.state == "new"
    folder = builds / str(first.build_folder.key)
    assert (folder / "CMakeCache.txt").is_file() and not (checkout / "build").exists()
    split = first.time_split
    # round 0: the base commit, built (cold) and tested in the same folder before the model's first edit
    assert split.builds == 3 and [r.round for r in split.rounds] == [0, 1, 2]
    assert split.rounds[0].build_seconds > 0 and split.rounds[0].test_seconds > 0
    assert split.build_seconds == pytest.approx(split.rounds[0].build_seconds + sum(
        s.seconds for r in first.rounds for s in r.steps if s.phase == "build"), abs=0.01)
    assert split.rounds[1].test_seconds == 0  # round 1 never reached the tests
    assert split.build_seconds + split.test_seconds + split.model_seconds <= first.seconds
    assert compiled(first, 1) == ["Player.cpp.o"]  # warm already: the baseline built everything else there
    body = pr_body(first.model_copy(update={"issue_number": 7}))
    assert "**Time:**" in body and "building (3 builds)" in body and f"new {first.build_folder.key}" in body
    assert "(base commit: build " in body and "; round 1: build " in body and "; round 2: build " in body
    assert ", tests " in body
    assert str(builds) not in body  # the key, never the runner's path
    assert "building (3 builds)" in summary.read_text()
    objects = {path: path.stat().st_mtime_ns for path in folder.rglob("*.cpp.o") if path.name != "Player.cpp.o"}

    # The next run, as actions/checkout leaves a self-hosted runner's workspace: forced back to main, cleaned.
    git(checkout, "checkout", "-q", "-f", "main")
    git(checkout, "clean", "-q", "-ffdx")
    anthropic.enqueue(Turn([tool_use("edit", NULL_CHECK), tool_use("finish", FIXED)]))
    second = fix(monkeypatch, capsys, checkout, crash, env)
    assert second.status == "local" and second.build_folder is not None
    assert (second.build_folder.state, second.build_folder.key) == ("reused", first.build_folder.key)
    assert compiled(second, 1) == ["Player.cpp.o"]  # warm: only the file the fix changed
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in objects.items())
    assert second.time_split.builds == 1
