"""The fixer is shown what changed before the crash: the game server with a planted regression commit.

The repository's history is real git: the game server with a guarded attack (the clean build
the host ran for 30 hours), a commit that changes an unrelated file, and the regression commit
that drops the guard from `Player::Update`. The game server built from the tip crashes for real
under gdb; the real uploader files it with its regression range (the host's uptime on the clean
build is in its spool), and the fixer, in a one-commit checkout as Actions makes it, reads the
suspect commit's diff through the fake GitHub and shows it to the model; the unrelated one it does not.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from crashfix.issues.record import parse_record
from crashfix.uploader.uptime import UptimeLog
from tests.conftest import FIXTURES, require_tools
from tests.fakes.anthropic_server import FakeAnthropic, Turn, tool_use
from tests.fakes.git_history import GitHistory, git
from tests.fakes.github_server import FakeGitHub
from tests.fixer import test_fix_e2e
from tests.fixer.helpers import FIX_CONFIG, fix_environment, run_cli
from tests.fixer.test_fix_e2e import FIXED, NULL_CHECK, event
from tests.uploader.helpers import make_uploader

pytestmark = pytest.mark.tools
github = test_fix_e2e.github  # the same fake GitHub as the end-to-end tests (anthropic: the root conftest)

UNCHECKED = "    if (target->GetHealth() > 0)\n"
GUARDED = "    if (target && target->GetHealth() > 0)\n"


def planted_history(tmp_path: Path) -> tuple[GitHistory, str, str, str]:
    """(history, the clean commit, an unrelated commit, the regression commit = the tip)."""
    require_tools("git", "cmake", "c++")
    history = GitHistory(tmp_path / "repo")
    sources = {str(path.relative_to(FIXTURES / "gameserver")): path.read_text()
               for path in (FIXTURES / "gameserver").rglob("*") if path.is_file()}
    player = sources["src/Player.cpp"]
    assert UNCHECKED in player
    clean = history.commit("Game server", {**sources, "src/Player.cpp": player.replace(UNCHECKED, GUARDED),
                                           ".github/crashfix.toml": FIX_CONFIG, ".gitignore": "build/\n"})
    errors = sources["src/Errors.cpp"]
    unrelated = history.commit("Errors: say which assertion failed first",
                               {"src/Errors.cpp": errors.replace("ASSERTION FAILED", "assertion failed")})
    regression = history.commit("Player: simplify the attack check", {"src/Player.cpp": player})
    return history, clean, unrelated, regression


def test_the_prompt_shows_the_suspect_commit_and_not_the_others(github: FakeGitHub, anthropic: FakeAnthropic,
                                                                crash_text: str, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    history, clean, unrelated, regression = planted_history(tmp_path)
    github.use_git(history.origin)
    state = tmp_path / "uploader-state"
    uploader = make_uploader(state, github.url)
    now = time.time()
    uptime = UptimeLog(uploader.spool.db)
    uptime.add(4101, now - 40 * 3600, clean[:12], now - 10 * 3600)  # the clean build ran 30 hours
    uptime.add(4102, now - 600, regression[:12], now - 5)  # then the new build, which crashed
    crashes = tmp_path / "crashes"
    crashes.mkdir()
    (crashes / "crash.txt").write_text(crash_text)
    os.utime(crashes / "crash.txt", (now - 1, now - 1))
    assert uploader.run_once([crashes])[0] == 0
    [number] = list(github.issues)
    record = parse_record(github.issues[number]["body"])
    assert record is not None and record.regression is not None
    assert [s.sha for s in record.regression.suspects] == [regression]
    assert record.regression.suspects[0].files == ["src/Player.cpp"]

    checkout = tmp_path / "checkout"  # as actions/checkout makes it: one commit, no history
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{history.origin}", str(checkout))
    assert git(checkout, "rev-list", "--count", "HEAD").strip() == "1"

    def first(request: dict[str, Any]) -> Turn:
        prompt = request["messages"][0]["content"][-1]["text"]
        section = prompt.split("## Suspect commits", 1)[1]
        assert regression[:12] in section and "Player: simplify the attack check" in section
        assert "-" + GUARDED.rstrip("\n") in section and "+" + UNCHECKED.rstrip("\n") in section  # its diff
        assert unrelated[:12] not in prompt and "assertion failed" not in prompt
        assert f"ran {clean[:12]} for 30.0 h" in section
        return Turn([tool_use("edit", NULL_CHECK), tool_use("finish", FIXED)])

    anthropic.enqueue(first)
    env = fix_environment(github, anthropic.url, tmp_path, **event(tmp_path, "opened", "crashfix-bot"))
    assert run_cli(monkeypatch, ["fix", "--issue", str(number), "--checkout", str(checkout)], env) == 0
    assert len(anthropic.message_requests()) == 1
    assert github.requests_to("GET", rf"/commits/{regression}$")  # the diff came through the API
    sticky = next(c["body"] for c in github.comments[number] if "crashfix:progress" in c["body"])
    assert "the diffs of 1 earlier commit(s)" in sticky
    shutil.rmtree(checkout / "build", ignore_errors=True)
