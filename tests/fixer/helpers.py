"""Shared pieces for the fixer's tests: the game server as a git repository with an origin,
a real crash of it filed by the real uploader, and a fix run wired to the fakes."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from crashfix.cli import main
from tests.conftest import FIXTURES, require_tools
from tests.fakes.github_server import FakeGitHub
from tests.uploader.helpers import REPO, make_uploader

API_KEY = "sk-ant-test-key-0123456789abcdef"
TOKEN = "test-token"

FIX_CONFIG = """\
[fix]
model = "claude-sonnet-5-5"
uploader_login = "CrashFix-Bot"  # GitHub logins ignore case
build = [
  ["cmake", "-S", ".", "-B", "build", "-DCMAKE_BUILD_TYPE=RelWithDebInfo"],
  ["cmake", "--build", "build", "--parallel", "2"],
]
test = [["ctest", "--test-dir", "build", "--output-on-failure"]]
build_timeout_seconds = 300
test_timeout_seconds = 120
repair_rounds = 3

[fix.budget]
max_turns = 12
max_cost_usd = 2.0
max_wall_seconds = 900
"""


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout


def game_repository(tmp_path: Path, config: str = FIX_CONFIG, files: dict[str, str] | None = None,
                    ) -> tuple[Path, Path]:
    """The test game server committed to a bare `origin` (main), and a fresh clone of it.

    `files`: repository-relative paths written (or appended to, with a leading `+`) before the commit."""
    require_tools("git", "cmake", "c++")
    seed = tmp_path / "seed"
    shutil.copytree(FIXTURES / "gameserver", seed)
    for name, content in (files or {}).items():
        target = seed / name.lstrip("+")
        target.write_text((target.read_text() if name.startswith("+") else "") + content)
    (seed / ".github").mkdir()
    (seed / ".github" / "crashfix.toml").write_text(config)
    (seed / ".github" / "workflows").mkdir()
    (seed / ".github" / "workflows" / "ci.yml").write_text("on: push\njobs: {}\n")
    (seed / ".gitignore").write_text("build/\n")
    (seed / "CLAUDE.md").write_text("Game server conventions: a Player without a target simply does not attack.\n")
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", ".")
    git(seed, "-c", "user.name=dev", "-c", "user.email=dev@example.com", "commit", "-q", "-m", "game server")
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(origin))
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", str(origin), str(checkout))
    return origin, checkout


def crash_for_real(build: Path, scenario: str = "combat") -> str:
    """Crash the built game server under gdb: the backtrace text, as a server host would keep it."""
    require_tools("gdb")
    done = subprocess.run(["gdb", "-q", "-batch", "-nx", "-ex", "run", "-ex", "bt", "--args",
                           str(build / "worldserver"), scenario], capture_output=True, text=True, timeout=120)
    return done.stdout + done.stderr


def file_crash(github: FakeGitHub, tmp_path: Path, text: str) -> int:
    """The real uploader files the crash text to the fake GitHub; returns the issue number."""
    crashes = tmp_path / "crashes"
    crashes.mkdir(exist_ok=True)
    path = crashes / f"crash-{len(list(crashes.iterdir()))}.txt"
    path.write_text(text)
    old = time.time() - 5
    os.utime(path, (old, old))
    uploader = make_uploader(tmp_path / "uploader-state", github.url)
    code, message = uploader.run_once([crashes])
    assert code == 0, message
    numbers = [n for n, issue in github.issues.items() if "crashfix:record" in (issue.get("body") or "")]
    assert numbers, "the uploader filed no crash issue"
    return max(numbers)


def fix_environment(github: FakeGitHub | None, anthropic_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {"ANTHROPIC_API_KEY": API_KEY, "ANTHROPIC_BASE_URL": anthropic_url,
           "CRASHFIX_STATE_DIR": str(tmp_path / "fix-state"), **extra}
    if github is not None:
        env.update(GITHUB_TOKEN=TOKEN, GITHUB_API_URL=github.url, GITHUB_REPOSITORY=REPO)
    return env


def run_cli(monkeypatch, args: list[str], env: dict[str, str]) -> int:  # type: ignore[no-untyped-def]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return main(args)
