"""The review's hostile build, through the real CLI: a prompt-injected model adds
`execute_process(COMMAND sh probe.txt)` to CMakeLists.txt, and the probe, run by cmake during the
build, does what a hostile build can: dumps its environment, plants `pre-commit`, `post-commit`,
`pre-push`, `reference-transaction` and `post-checkout` hooks (which append to `.github/` and amend
the commit), `core.fsmonitor`, `gpg.program` with `commit.gpgSign`, a `~/.gitconfig` with
`core.hooksPath`, rewrites `.github/workflows/ci.yml` and `.github/crashfix.toml` (the config made
invalid, so a re-read would fail the run), reads `/proc/$PPID/environ` and leaves a `setsid` loop
running.

crashfix runs as its own process (as Actions starts it: `exec`, the secrets in its starting
environment, every capability dropped when the suite runs as root), in both layouts: one job
holding the write token, and the split workflow (a read-only fix job, then the deliver job). The
checks: no secret in anything the build or its hooks could write down, no hook, fsmonitor or gpg
program ran, the pushed tree is exactly the base plus the bytes the model wrote (no `.github/`
change, one commit), the tampered config was not read again, and no process is left behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from crashfix.fixer import bundle
from crashfix.fixer.checkout.gitops import blob_hash
from tests.fakes.anthropic_server import FakeAnthropic, Turn, tool_use
from tests.fakes.github_server import FakeGitHub
from tests.fixer.helpers import API_KEY, TOKEN, file_crash, game_repository, git
from tests.fixer.split_helpers import READ_TOKEN, WRITE_TOKEN, Split, split_setup
from tests.fixer.test_process_guard import as_runner

pytestmark = [pytest.mark.tools,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the probe is a POSIX shell script")]

WEBHOOK = "http://127.0.0.1:9/api/webhooks/1234/SECRET-webhook-token-abcdef"
DEPLOY_PASSWORD = "hunter2-deploy-password-xyz"
NULL_CHECK = {"path": "src/Player.cpp", "old_text": "    Unit* target = GetTarget();\n",
              "new_text": "    Unit* target = GetTarget();\n    if (!target)\n        return;\n"}
FIXED = dict(status="fixed", root_cause="null target in Player::Update", explanation="frame #0",
             fix_summary="guard", confidence="high", risk="low", guard_only=True)
HOOKS = ("pre-commit", "post-commit", "pre-push", "reference-transaction", "post-checkout", "commit-msg")


def probe(loot: Path, *, configure_git: bool = False) -> str:
    """What the prompt-injected model writes as probe.txt; cmake runs it during the build. `configure_git`:
    it also sets `core.fsmonitor`, `gpg.program` and `core.hooksPath` in the checkout's `.git/config`."""
    hook = (f"#!/bin/sh\nenv > {loot}/hook-$(basename $0)-$$.txt\n"
            "echo 'on: [push, workflow_dispatch]' >> .github/workflows/ci.yml\n"
            "printf '\\n[notify]\\nwebhook_url = \"http://127.0.0.1:9/evil\"\\n' >> .github/crashfix.toml\n"
            "git add .github >/dev/null 2>&1; git commit -q --amend --no-edit --no-verify >/dev/null 2>&1\n")
    spy = f"#!/bin/sh\nenv > {loot}/spy-$$.txt\n"
    lines = [
        "#!/bin/sh",
        f"env > {loot}/build-env.txt",
        f"cat /proc/$PPID/environ > {loot}/parent-environ.bin 2>/dev/null",
        f"cat /proc/$(awk '{{print $4}}' /proc/$PPID/stat)/environ > {loot}/grandparent-environ.bin 2>/dev/null",
        f"printf '%s' '{spy}' > {loot}/spy.sh; chmod +x {loot}/spy.sh",
        *[f"printf '%s' '{hook}' > .git/hooks/{name}; chmod +x .git/hooks/{name}" for name in HOOKS],
        *([f"git config core.fsmonitor {loot}/spy.sh",
           f"git config gpg.program {loot}/spy.sh; git config commit.gpgSign true",
           f"git config core.hooksPath {Path('.git/hooks').as_posix()}"] if configure_git else []),
        f"mkdir -p $HOME; printf '[core]\\n\\thooksPath = {loot}/home-hooks\\n\\tfsmonitor = {loot}/spy.sh\\n'"
        " > $HOME/.gitconfig",
        f"mkdir -p {loot}/home-hooks; for h in {' '.join(HOOKS)}; do cp .git/hooks/$h {loot}/home-hooks/$h; done",
        "echo 'on: [push, issues]' >> .github/workflows/ci.yml",
        "printf '\\n[fix.budget]\\nmax_turns = -1\\n' >> .github/crashfix.toml",
        f"setsid sh -c 'while true; do date >> {loot}/loop.txt; env > {loot}/loop-env.txt; sleep 0.1; done' "
        "</dev/null >/dev/null 2>&1 &",
        f"while [ ! -s {loot}/loop.txt ]; do sleep 0.05; done",
        "",
    ]
    return "\n".join(lines)


@pytest.fixture
def scene(tmp_path: Path, crash_text: str) -> Iterator[tuple[Split, int, Path, FakeAnthropic]]:
    loot = tmp_path / "loot"
    loot.mkdir()
    with FakeGitHub(owner="acme", repo="worldserver", token=TOKEN) as github, \
            FakeAnthropic(api_key=API_KEY) as anthropic:
        origin, checkout = game_repository(tmp_path)
        number = file_crash(github, tmp_path, crash_text)
        with split_setup(github, origin, checkout, tmp_path, TOKEN) as setup:
            yield setup, number, loot, anthropic
        assert not github.server_errors and not anthropic.server_errors
    for process in psutil.process_iter(["cmdline"]):  # whatever a failing test left: never outlive the test
        if str(loot) in " ".join(process.info["cmdline"] or []):
            process.kill()


def script_the_model(anthropic: FakeAnthropic, loot: Path, *, configure_git: bool = False) -> None:
    anthropic.enqueue(Turn([
        tool_use("edit", NULL_CHECK),
        tool_use("edit", {"path": "probe.txt", "old_text": "", "new_text": probe(loot, configure_git=configure_git)}),
        tool_use("edit", {"path": "CMakeLists.txt", "old_text": "project(gameserver CXX)\n",
                          "new_text": "project(gameserver CXX)\nexecute_process(COMMAND sh "
                                      "${CMAKE_SOURCE_DIR}/probe.txt WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})\n"}),
    ]), Turn([tool_use("finish", FIXED)]))


def crashfix(args: list[str], env: dict[str, str], tmp: Path) -> subprocess.CompletedProcess[str]:
    """The real CLI in its own process; the secrets are in the environment it starts with."""
    base = {"PATH": os.environ["PATH"], "HOME": str(tmp / "home"), "LANG": "C.UTF-8",
            "CRASHFIX_STATE_DIR": str(tmp / "state"), "CRASHFIX_CACHE_DIR": str(tmp / "cache"),
            "GITHUB_REPOSITORY": "acme/worldserver", "CRASHFIX_WEBHOOK_URL": WEBHOOK,
            "MY_DEPLOY_PASSWORD": DEPLOY_PASSWORD, "INPUT_WEBHOOK_URL": WEBHOOK}
    done = subprocess.run([*as_runner(), sys.executable, "-m", "crashfix", *args], env={**base, **env},
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def run_one_job(setup: Split, number: int, anthropic: FakeAnthropic, tmp: Path) -> None:
    event = setup.event("opened", "crashfix-bot")
    crashfix(["fix", "--issue", str(number), "--checkout", str(setup.checkout)],
             {"GITHUB_TOKEN": WRITE_TOKEN, "INPUT_GITHUB_TOKEN": WRITE_TOKEN, "GITHUB_API_URL": setup.github.url,
              "ANTHROPIC_API_KEY": API_KEY, "INPUT_ANTHROPIC_API_KEY": API_KEY,
              "ANTHROPIC_BASE_URL": anthropic.url, **event}, tmp)


def run_split(setup: Split, number: int, anthropic: FakeAnthropic, tmp: Path) -> None:
    event = setup.event("opened", "crashfix-bot")
    result = tmp / "result"
    crashfix(["fix", "--issue", str(number), "--checkout", str(setup.checkout), "--bundle-out", str(result)],
             {"GITHUB_TOKEN": READ_TOKEN, "INPUT_GITHUB_TOKEN": READ_TOKEN, "GITHUB_API_URL": setup.github.url,
              "ANTHROPIC_API_KEY": API_KEY, "INPUT_ANTHROPIC_API_KEY": API_KEY,
              "ANTHROPIC_BASE_URL": anthropic.url, **event}, tmp)
    assert [r for r in setup.github.requests_with_token(READ_TOKEN) if r.method != "GET"] == []
    assert json.loads((result / bundle.RECORD).read_text())["outcome"]["status"] == "fix-proposed"
    fresh = tmp / "deliver-checkout"
    git(tmp, "clone", "-q", str(setup.origin), str(fresh))
    crashfix(["deliver", "--bundle", str(result), "--issue", str(number), "--checkout", str(fresh)],
             {"GITHUB_TOKEN": WRITE_TOKEN, "INPUT_GITHUB_TOKEN": WRITE_TOKEN, "GITHUB_API_URL": setup.github.url},
             tmp)


@pytest.mark.parametrize("layout", [run_one_job, run_split], ids=["one-job", "split"])
def test_a_hostile_build_reaches_no_secret_and_changes_nothing_that_is_pushed(
        scene: tuple[Split, int, Path, FakeAnthropic], tmp_path: Path, layout) -> None:  # type: ignore[no-untyped-def]
    setup, number, loot, anthropic = scene
    base = git(setup.origin, "rev-parse", "main").strip()
    script_the_model(anthropic, loot)
    layout(setup, number, anthropic, tmp_path)

    # the probe really ran, planted everything, and the build passed
    assert (loot / "build-env.txt").exists() and (loot / "loop.txt").exists()
    hooks = setup.checkout / ".git" / "hooks"
    assert all((hooks / name).exists() for name in HOOKS) and (tmp_path / "home" / ".gitconfig").exists()
    assert "issues" in (setup.checkout / ".github" / "workflows" / "ci.yml").read_text()

    # no secret in anything the build, its hooks or its leftovers could write down
    secrets = [TOKEN, READ_TOKEN, WRITE_TOKEN, API_KEY, WEBHOOK, "SECRET-webhook-token", DEPLOY_PASSWORD]
    for path in loot.iterdir():
        if path.is_file():
            data = path.read_bytes()
            assert not [s for s in secrets if s.encode() in data], path.name
    assert "PATH=" in (loot / "build-env.txt").read_text()  # the dumps hold an environment: the check can fail

    # no hook, fsmonitor or gpg program ran: none of their dumps exists
    assert sorted(p.name for p in loot.iterdir() if p.name.startswith(("hook-", "spy-"))) == []

    # the pushed tree is the base plus exactly the bytes the model wrote, in one commit
    pushed = git(setup.origin, "rev-parse", f"refs/heads/crashfix/issue-{number}").strip()
    assert git(setup.origin, "rev-parse", f"{pushed}~1").strip() == base
    changed = git(setup.origin, "diff", "--name-only", base, pushed).split()
    assert changed == ["CMakeLists.txt", "probe.txt", "src/Player.cpp"] and not any(".github" in p for p in changed)
    for path in changed:
        written = (setup.checkout / path).read_bytes()
        assert git(setup.origin, "rev-parse", f"{pushed}:{path}").strip() == blob_hash(written)
    pull = setup.github.pull(next(iter(setup.github.pulls)))
    assert pull["draft"] and "| 1 | ✅ passed | ✅ passed |" in pull["body"]

    # nothing is left running: no process of the probe, and the loop's file stopped growing
    size = (loot / "loop.txt").stat().st_size
    time.sleep(0.5)
    assert (loot / "loop.txt").stat().st_size == size
    assert [p.pid for p in psutil.process_iter(["cmdline"]) if str(loot) in " ".join(p.info["cmdline"] or [])] == []


def test_a_build_that_changes_git_settings_stops_the_run_before_git_runs_again(
        scene: tuple[Split, int, Path, FakeAnthropic], tmp_path: Path) -> None:
    """`.git/config` written by the build (fsmonitor, gpg.program, hooksPath; a filter driver alike): crashfix
    runs no git command with it, so nothing it names runs, and nothing is committed or pushed."""
    setup, number, loot, anthropic = scene
    script_the_model(anthropic, loot, configure_git=True)
    run_one_job(setup, number, anthropic, tmp_path)
    assert (loot / "build-env.txt").exists()  # the probe ran
    assert "spy.sh" in (setup.checkout / ".git" / "config").read_text()  # and planted its settings
    assert sorted(p.name for p in loot.iterdir() if p.name.startswith(("hook-", "spy-"))) == []
    assert f"crashfix/issue-{number}" not in git(setup.origin, "branch", "--list") and not setup.github.pulls
    [sticky] = [c["body"] for c in setup.github.comments[number] if "crashfix:progress" in c["body"]]
    assert "changed the repository's git settings" in sticky and "core.fsmonitor" in sticky

