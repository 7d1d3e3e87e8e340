"""The fix workflow that `crashfix init` installs, run for real by act in host mode (no Docker),
with crafted `issues` events, against the fake GitHub and the fake Anthropic API.

act runs both jobs on this machine (`-P <label>=-self-hosted`), resolves the crashfix action
`uses:` to this checkout (`--local-repository`), runs its bash steps, installs crashfix into its
own virtual environment (kept in act's tool cache, so only the first scenario pays for it) and
runs `crashfix gate`, then `crashfix fix` on the game server repository, which really builds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crashfix.cli import main
from tests.actions.helpers import tool
from tests.conftest import ROOT
from tests.fakes.anthropic_server import FakeAnthropic, Turn, tool_use
from tests.fakes.git_http import GitHttpServer
from tests.fakes.github_server import FakeGitHub
from tests.fixer.helpers import API_KEY, TOKEN, file_crash, game_repository, git

pytestmark = [pytest.mark.tools,
              pytest.mark.skipif(os.name == "nt", reason="act's host mode is driven from Linux here (the steps are "
                                                         "bash and python, as on a Windows runner with Git Bash)")]

ACTION_SHA = "0123456789abcdef0123456789abcdef01234567"
ACTION = f"crashfix-dev/crashfix@{ACTION_SHA}"
NULL_CHECK = {"path": "src/Player.cpp",
              "old_text": "    Unit* target = GetTarget();\n",
              "new_text": "    Unit* target = GetTarget();\n    if (!target)\n        return; // no target: nothing to attack\n"}
ANSWER = dict(root_cause="Player::Update dereferences GetTarget() although a player may have no target.",
              explanation="frame #0 reads target->GetHealth() with target == nullptr.",
              fix_summary="Players without a target skip the attack.", confidence="high", risk="low",
              guard_only=False)
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def act_setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    """act, the action's source as a published checkout would hold it, and act's cache (one per module)."""
    act = tool("act")
    source = tmp_path_factory.mktemp("crashfix-action")
    for name in ("action.yml", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "crashfix", source / "crashfix", ignore=shutil.ignore_patterns("__pycache__"))
    return act, source, tmp_path_factory.mktemp("act-cache")


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(owner="acme", repo="worldserver", token=TOKEN) as fake:
        fake.set_permission("maintainer", "maintain")
        fake.set_permission("drive-by", "read")
        yield fake
        assert not fake.server_errors, fake.server_errors[0]


@pytest.fixture
def anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(api_key=API_KEY) as fake:
        yield fake
        assert not fake.server_errors, fake.server_errors[0]


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, github: FakeGitHub) -> Iterator[tuple[Path, Path]]:
    """The game server with the workflow `crashfix init` writes, pushed to its origin; the checkout's
    `origin` is then a private repository over smart HTTP that wants the token for every fetch and
    push, as actions/checkout leaves it with `persist-credentials: false`; the fake GitHub's tokens
    and branches are that origin's."""
    origin, checkout = game_repository(tmp_path)
    github.use_git(origin)
    monkeypatch.delenv("GITHUB_API_URL")
    assert main(["init", str(checkout), "--action", ACTION, "--no-labels"]) == 0
    git(checkout, "add", ".github/workflows/crashfix-fix.yml")
    git(checkout, "-c", "user.name=dev", "-c", "user.email=dev@example.com", "commit", "-qm", "crashfix workflow")
    git(checkout, "push", "-q", "origin", "main")
    with GitHttpServer(tmp_path, TOKEN, github=github) as server:
        git(checkout, "remote", "set-url", "origin", f"{server.url}/{origin.name}")
        yield origin, checkout


def run_act(act_setup: tuple[str, Path, Path], checkout: Path, github: FakeGitHub, anthropic: FakeAnthropic,
            payload: dict[str, Any], scenario: str) -> subprocess.CompletedProcess[str]:
    act, source, cache = act_setup
    event = checkout.parent / f"event-{scenario}.json"
    event.write_text(json.dumps({"repository": {"full_name": "acme/worldserver", "name": "worldserver",
                                                "owner": {"login": "acme"}, "default_branch": "main"},
                                 **payload}))
    env = {"PATH": os.environ["PATH"], "HOME": str(checkout.parent / "home"), "LANG": "C.UTF-8"}
    command = [
        act, "issues", "-W", ".github/workflows/crashfix-fix.yml", "-e", str(event),
        "-P", "ubuntu-latest=-self-hosted", "-P", "self-hosted=-self-hosted", "-P", "windows=-self-hosted",
        "--action-offline-mode", "--action-cache-path", str(cache),
        "--local-repository", f"{ACTION}={source}",
        "-s", f"GITHUB_TOKEN={TOKEN}", "-s", f"ANTHROPIC_API_KEY={API_KEY}",
        "--env", f"GITHUB_API_URL={github.url}", "--env", f"ANTHROPIC_BASE_URL={anthropic.url}",
        "--env", "GITHUB_REPOSITORY=acme/worldserver",
        "--env", f"CRASHFIX_STATE_DIR={checkout.parent / 'act-state'}",
        "--env", f"CRASHFIX_CACHE_DIR={checkout.parent / 'act-cache'}",
        "--var", f"CRASHFIX_PYTHON={sys.executable}", "--var", f"CRASHFIX_GATE_PYTHON={sys.executable}",
    ]
    started = time.monotonic()
    done = subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True, timeout=900)
    TIMINGS[scenario] = time.monotonic() - started
    print(f"act {scenario}: {TIMINGS[scenario]:.1f} s")
    log = os.environ.get("CRASHFIX_ACT_LOG")  # a folder to keep act's output in, for a human to read
    if log:
        Path(log, f"act-{scenario}.log").write_text(done.stdout + "\n--- stderr ---\n" + done.stderr)
    return done


def issue_event(action: str, number: int, sender: str, title: str, label: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"action": action, "sender": {"login": sender},
                               "issue": {"number": number, "title": title, "body": title,
                                         "user": {"login": sender}}}
    if label:
        payload["label"] = {"name": label}
    return payload


GATE_JOB, FIX_JOB = "should crashfix run?", "fix the crash"  # the job names in the template


def job_lines(output: str, job: str) -> str:
    """act's lines for one job: each starts `[<workflow>/<job name, padded>]`."""
    return "\n".join(line for line in output.splitlines()
                     if line.startswith("[") and line.split("]")[0].split("/", 1)[-1].strip() == job)


def test_a_new_crash_issue_from_the_uploader_becomes_a_draft_pr(
        act_setup: tuple[str, Path, Path], github: FakeGitHub, anthropic: FakeAnthropic,
        repository: tuple[Path, Path], crash_text: str, tmp_path: Path) -> None:
    origin, checkout = repository
    number = file_crash(github, tmp_path, crash_text)
    # The model's words reach the log; a line of them must not be obeyed as a workflow command.
    answer = {**ANSWER, "root_cause": ANSWER["root_cause"] + "\n::set-output name=status::hacked\n::error::forged"}
    anthropic.enqueue(Turn([tool_use("edit", NULL_CHECK)]), Turn([tool_use("finish", {"status": "fixed", **answer})]))
    done = run_act(act_setup, checkout, github, anthropic,
                   issue_event("opened", number, "crashfix-bot", github.issues[number]["title"]), "opened")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert "::set-output:: fix=true" in job_lines(done.stdout, GATE_JOB)
    pulls = list(github.pulls)
    assert len(pulls) == 1, done.stdout[-6000:]
    pull = github.pull(pulls[0])
    assert pull["draft"] is True and f"Fixes #{number}" in pull["body"]
    assert "| 1 | ✅ passed | ✅ passed |" in pull["body"]  # built and tested for real inside the act job
    pushed = git(origin, "rev-parse", f"refs/heads/crashfix/issue-{number}").strip()
    assert "if (!target)" in git(origin, "show", f"{pushed}:src/Player.cpp")
    fix_log = job_lines(done.stdout, FIX_JOB)
    assert "::set-output:: status=fix-proposed" in fix_log and f"::set-output:: pr-url={pull['html_url']}" in fix_log
    assert "::group::crashfix fix #" in fix_log and "Summary - ## crashfix: ✅ Draft PR proposed" in fix_log
    assert "::set-output name=status::hacked" in fix_log  # printed as text...
    assert "status=hacked" not in fix_log and "❗  ::error::forged" not in fix_log  # ...and not obeyed
    assert TOKEN not in done.stdout and API_KEY not in done.stdout


def test_reanalyze_by_a_writer_runs_the_fixer(
        act_setup: tuple[str, Path, Path], github: FakeGitHub, anthropic: FakeAnthropic,
        repository: tuple[Path, Path], crash_text: str, tmp_path: Path) -> None:
    _, checkout = repository
    number = file_crash(github, tmp_path, crash_text)
    github.label_issue(number, "reanalyze", "maintainer")
    anthropic.enqueue(Turn([tool_use("finish", {"status": "cannot_fix", **ANSWER, "confidence": "low"})]))
    done = run_act(act_setup, checkout, github, anthropic,
                   issue_event("labeled", number, "maintainer", "Crash", "reanalyze"), "reanalyze-writer")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert len(anthropic.message_requests()) == 1  # the fix job ran and asked the model
    labels = {label["name"] for label in github.issues[number]["labels"]}
    assert "reanalyze" not in labels and "crashfix:needs-human" in labels
    assert github.requests_to("GET", r"/collaborators/maintainer/permission")


def test_reanalyze_by_a_reader_is_refused_by_the_gate(
        act_setup: tuple[str, Path, Path], github: FakeGitHub, anthropic: FakeAnthropic,
        repository: tuple[Path, Path], crash_text: str, tmp_path: Path) -> None:
    _, checkout = repository
    number = file_crash(github, tmp_path, crash_text)
    github.label_issue(number, "reanalyze", "drive-by")
    writes = len(github.writes())
    done = run_act(act_setup, checkout, github, anthropic,
                   issue_event("labeled", number, "drive-by", "Crash", "reanalyze"), "reanalyze-reader")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert "permission is `read`" in done.stdout
    assert "::set-output:: fix=false" in job_lines(done.stdout, GATE_JOB)
    assert job_lines(done.stdout, FIX_JOB) == ""  # the self-hosted job never started
    assert anthropic.message_requests() == [] and len(github.writes()) == writes and github.pulls == {}
    assert github.requests_to("GET", r"/collaborators/drive-by/permission")


def test_a_title_carrying_shell_code_runs_nothing(
        act_setup: tuple[str, Path, Path], github: FakeGitHub, anthropic: FakeAnthropic,
        repository: tuple[Path, Path], tmp_path: Path) -> None:
    _, checkout = repository
    marker = tmp_path / "MARKER"
    title = f"Crash $(touch {marker}) `touch {marker}-backtick` \"; touch {marker}-quote; echo \""
    issue = github.seed_issue(title, f"$(touch {marker}-body)", labels=["crash"], user="crashfix-bot")
    number = int(issue["number"])
    done = run_act(act_setup, checkout, github, anthropic, issue_event("opened", number, "crashfix-bot", title),
                   "injection")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith("MARKER")) == []
    said = [comment["body"] for comment in github.comments[number]]
    assert len(said) == 1 and "no crashfix record and no crash output" in said[0]  # the fix job did run


def test_the_same_title_does_run_code_in_a_workflow_that_interpolates_it(
        act_setup: tuple[str, Path, Path], github: FakeGitHub, anthropic: FakeAnthropic,
        repository: tuple[Path, Path], tmp_path: Path) -> None:
    """The control for the test above: the event really carries working shell code."""
    _, checkout = repository
    marker = tmp_path / "MARKER"
    unsafe = checkout / ".github" / "workflows" / "crashfix-fix.yml"
    unsafe.write_text("on: issues\npermissions: {}\njobs:\n  unsafe:\n    runs-on: ubuntu-latest\n    steps:\n"
                      "      - run: echo \"${{ github.event.issue.title }}\"\n")
    git(checkout, "-c", "user.name=dev", "-c", "user.email=dev@example.com", "commit", "-qam", "unsafe")
    title = f"Crash $(touch {marker})"
    done = run_act(act_setup, checkout, github, anthropic, issue_event("opened", 1, "crashfix-bot", title), "control")
    assert done.returncode == 0, done.stdout[-3000:]
    assert marker.exists()


def test_bad_action_inputs_fail_with_one_annotation_before_anything_is_installed(
        act_setup: tuple[str, Path, Path], github: FakeGitHub, anthropic: FakeAnthropic,
        repository: tuple[Path, Path]) -> None:
    _, checkout = repository
    workflow = checkout / ".github" / "workflows" / "crashfix-fix.yml"
    workflow.write_text("on: issues\npermissions: {}\njobs:\n  fix:\n    runs-on: ubuntu-latest\n    steps:\n"
                        f"      - uses: {ACTION}\n        with:\n          command: deploy\n")
    git(checkout, "-c", "user.name=dev", "-c", "user.email=dev@example.com", "commit", "-qam", "bad input")
    done = run_act(act_setup, checkout, github, anthropic, issue_event("opened", 1, "crashfix-bot", "x"), "bad-input")
    assert done.returncode != 0
    assert "::error::crashfix: input command must be fix or gate, not 'deploy'" in done.stdout
    assert "Install crashfix" not in done.stdout and github.requests == []
