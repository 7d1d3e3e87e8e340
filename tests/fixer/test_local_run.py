"""`crashfix fix --local` as a developer runs it: through `main`, real git, real cmake builds of the game
server, the fake Anthropic API behind the real SDK. A verified fix keeps its branch when a later run
fails (that attempt gets a branch of its own), the checkout returns to where it was, the terminal shows
each phase and the first compiler errors, and the exit code says how it ended."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.anthropic_server import FakeAnthropic, Turn, tool_use
from tests.fixer.helpers import fix_environment, game_repository, git, run_cli
from tests.fixer.test_fix_e2e import FIXED, NULL_CHECK

pytestmark = pytest.mark.tools

TYPO = {**NULL_CHECK, "new_text": NULL_CHECK["new_text"].replace("(!target)", "(!targett)")}


def local_branches(checkout: Path) -> list[str]:
    return git(checkout, "for-each-ref", "--format=%(refname:short)", "refs/heads/crashfix/").split()


def test_a_failing_second_run_keeps_the_verified_branch_and_gets_its_own(
        anthropic: FakeAnthropic, crash_text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _, checkout = game_repository(tmp_path)
    crash = tmp_path / "crash.txt"
    crash.write_text(crash_text)
    env = fix_environment(None, anthropic.url, tmp_path)
    args = ["fix", "--local", "--report", str(crash), "--checkout", str(checkout)]
    main_tip = git(checkout, "rev-parse", "main").strip()

    anthropic.enqueue(Turn([tool_use("edit", NULL_CHECK), tool_use("finish", FIXED)]))
    assert run_cli(monkeypatch, args, env) == 0
    first = capsys.readouterr()
    [verified_branch] = local_branches(checkout)
    verified_tip = git(checkout, "rev-parse", verified_branch).strip()
    assert git(checkout, "symbolic-ref", "--short", "HEAD").strip() == "main"  # back where it was
    assert git(checkout, "rev-parse", "main").strip() == main_tip and git(checkout, "status", "--porcelain") == ""
    assert "if (!target)" in git(checkout, "show", f"{verified_tip}:src/Player.cpp")
    assert "Crashfix-Verified: yes" in git(checkout, "log", "-1", "--format=%B", verified_tip)
    for phase in ("Gate", "Locate", "Analyse", "Build & test", "Deliver"):
        assert f"] {phase}" in first.err, first.err
    assert "model: edit src/Player.cpp" in first.err and "build: cmake" in first.err
    assert f"branch: {verified_branch}" in first.out and "the checkout is back on main" in first.out
    assert "cost unknown" not in first.out and "$0.0" in first.out  # priced from the price list

    # The second run never compiles: three rounds of the same typo.
    anthropic.enqueue(Turn([tool_use("edit", TYPO), tool_use("finish", FIXED)]),
                      *[Turn([tool_use("finish", FIXED)]) for _ in range(2)])
    assert run_cli(monkeypatch, args, env) == 1
    second = capsys.readouterr()
    assert git(checkout, "rev-parse", verified_branch).strip() == verified_tip  # the verified fix is untouched
    attempt = f"{verified_branch}-attempt-2"
    assert sorted(local_branches(checkout)) == sorted([verified_branch, attempt])
    assert "if (!targett)" in git(checkout, "show", f"{attempt}:src/Player.cpp")
    assert "Crashfix-Verified: no" in git(checkout, "log", "-1", "--format=%B", attempt)
    assert git(checkout, "symbolic-ref", "--short", "HEAD").strip() == "main"
    assert f"branch: {attempt}" in second.out
    assert "round 3: build failed" in second.err
    assert "src/Player.cpp:12:10: error:" in second.err and "targett" in second.err  # the compiler's words
    assert str(checkout) not in second.err.split("round 3: build failed")[-1]  # repository-relative


def test_an_uncommitted_file_is_a_usage_error_before_any_model_call(
        anthropic: FakeAnthropic, crash_text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _, checkout = game_repository(tmp_path)
    crash = tmp_path / "crash.txt"
    crash.write_text(crash_text)
    (checkout / "notes.txt").write_text("work in progress\n")
    env = fix_environment(None, anthropic.url, tmp_path)
    code = run_cli(monkeypatch, ["fix", "--local", "--report", str(crash), "--checkout", str(checkout)], env)
    assert code == 2
    said = capsys.readouterr().err
    assert "uncommitted changes (notes.txt)" in said and "Traceback" not in said
    assert anthropic.message_requests() == [] and local_branches(checkout) == []
    assert git(checkout, "symbolic-ref", "--short", "HEAD").strip() == "main"


def test_no_fix_from_the_model_exits_1_and_leaves_no_empty_branch(
        anthropic: FakeAnthropic, crash_text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _, checkout = game_repository(tmp_path)
    crash = tmp_path / "crash.txt"
    crash.write_text(crash_text)
    anthropic.enqueue(Turn([tool_use("finish", {**FIXED, "status": "cannot_fix", "confidence": "low"})]))
    env = fix_environment(None, anthropic.url, tmp_path)
    code = run_cli(monkeypatch, ["fix", "--local", "--report", str(crash), "--checkout", str(checkout)], env)
    assert code == 1
    out = capsys.readouterr().out
    assert "the model found no sound fix" in out and local_branches(checkout) == []
    assert git(checkout, "symbolic-ref", "--short", "HEAD").strip() == "main"


@pytest.mark.skipif(os.name == "nt", reason="sends SIGINT to the child, as a POSIX terminal's Ctrl+C does")
def test_ctrl_c_during_a_build_keeps_the_edit_on_its_branch_and_returns_the_checkout(
        anthropic: FakeAnthropic, crash_text: str, tmp_path: Path) -> None:
    _, checkout = game_repository(tmp_path)
    config = checkout / ".github" / "crashfix.toml"
    slow_once_edited = ("import pathlib, time; time.sleep(300 if 'if (!target)' in "
                        "pathlib.Path('src/Player.cpp').read_text() else 0)")  # the base commit builds at once
    config.write_text(config.read_text().replace("build = [\n", f'build = [\n  ["python3", "-c", "{slow_once_edited}"],\n'))
    git(checkout, "-c", "user.name=dev", "-c", "user.email=d@e", "commit", "-qam", "a slow build")
    crash = tmp_path / "crash.txt"
    crash.write_text(crash_text)
    anthropic.enqueue(Turn([tool_use("edit", NULL_CHECK), tool_use("finish", FIXED)]))
    env = {**os.environ, **fix_environment(None, anthropic.url, tmp_path), "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen([sys.executable, "-m", "crashfix", "fix", "--local", "--report", str(crash),
                              "--checkout", str(checkout)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    seen: list[str] = []
    try:
        assert child.stderr is not None
        for line in child.stderr:  # the console says when the slow step starts: the base commit's, then round 1's
            seen.append(line)
            if sum("build: python3 -c" in said for said in seen) == 2:
                break
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=120)
    finally:
        child.kill()
    assert child.returncode == 130, "".join(seen) + err
    [branch] = local_branches(checkout)
    assert f"interrupted: the edits so far are on {branch} (not verified)" in err, err
    assert "if (!target)" in git(checkout, "show", f"{branch}:src/Player.cpp")
    assert "Crashfix-Verified: no" in git(checkout, "log", "-1", "--format=%B", branch)
    assert git(checkout, "symbolic-ref", "--short", "HEAD").strip() == "main"
    assert git(checkout, "status", "--porcelain", "--untracked-files=no") == ""
