"""The fix workflow that `crashfix init` installs, run for real by act in host mode (no Docker),
with crafted `issues` events, against the fake GitHub, the fake Anthropic API and a private git
origin over smart HTTP.

act runs all three jobs on this machine (`-P <label>=-self-hosted`), resolves the crashfix action
`uses:` to this checkout (`--local-repository`), runs its bash steps, installs crashfix into its own
virtual environment (kept in act's tool cache, so only the first scenario pays for it) and runs
`crashfix gate`, then `crashfix fix` on the game server repository (which really builds, with the
fix job's read-only token), then `crashfix deliver` (with the deliver job's token) on the result
the fix job left as an artifact. Where act cannot be GitHub (one token for every job, GitHub's own
actions offline) see tests/actions/act_helpers.py.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from crashfix.cli import main
from crashfix.fixer import bundle
from tests.actions.act_helpers import (
    ACTION,
    DELIVER_JOB,
    DELIVER_PAT,
    FIX_JOB,
    GATE_JOB,
    JOB_TOKENS,
    ActRun,
    grant_job_tokens,
    issue_event,
    job_lines,
    per_job_workflow,
)
from tests.actions.helpers import tool
from tests.conftest import ROOT
from tests.fakes.anthropic_server import FakeAnthropic, Turn, tool_use
from tests.fakes.github_server import WRITE_METHODS, FakeGitHub
from tests.fixer.helpers import API_KEY, TOKEN, file_crash, game_repository, git
from tests.fixer.split_helpers import split_setup

pytestmark = [pytest.mark.tools,
              pytest.mark.skipif(os.name == "nt", reason="act's host mode is driven from Linux here (the steps are "
                                                         "bash and python, as on a Windows runner with Git Bash)")]

NULL_CHECK = {"path": "src/Player.cpp",
              "old_text": "    Unit* target = GetTarget();\n",
              "new_text": "    Unit* target = GetTarget();\n    if (!target)\n        return; // no target: nothing to attack\n"}
ANSWER = dict(root_cause="Player::Update dereferences GetTarget() although a player may have no target.",
              explanation="frame #0 reads target->GetHealth() with target == nullptr.",
              fix_summary="Players without a target skip the attack.", confidence="high", risk="low",
              guard_only=False)
SECRETS = [TOKEN, API_KEY, DELIVER_PAT, *JOB_TOKENS.values()]


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
def run(act_setup: tuple[str, Path, Path], github: FakeGitHub, anthropic: FakeAnthropic, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[ActRun]:
    """The game server with the workflow `crashfix init` writes, pushed to a private origin served over smart
    HTTP that wants a token for every fetch and push (as actions/checkout leaves it with
    `persist-credentials: false`), each job's token known to the fake GitHub with that job's permissions."""
    origin, checkout = game_repository(tmp_path)
    github.use_git(origin)
    monkeypatch.delenv("GITHUB_API_URL")
    assert main(["init", str(checkout), "--action", ACTION, "--no-labels"]) == 0
    installed = (checkout / ".github" / "workflows" / "crashfix-fix.yml").read_text()
    git(checkout, "add", ".github/workflows/crashfix-fix.yml")
    git(checkout, "-c", "user.name=dev", "-c", "user.email=dev@example.com", "commit", "-qm", "crashfix workflow")
    git(checkout, "push", "-q", "origin", "main")
    grant_job_tokens(github, installed)
    with split_setup(github, origin, checkout, tmp_path, TOKEN) as setup:
        act, source, cache = act_setup
        yield ActRun(act, source, cache, checkout, per_job_workflow(installed, tmp_path / "act" / "crashfix-fix.yml"),
                     github, anthropic, tmp_path / "artifacts", setup.origin)


def fix_job_writes(github: FakeGitHub) -> list[str]:
    return [f"{r.method} {r.path}" for r in github.requests_with_token(JOB_TOKENS["fix"]) if r.method in WRITE_METHODS]


def test_a_new_crash_issue_from_the_uploader_becomes_a_draft_pr(run: ActRun, crash_text: str, tmp_path: Path) -> None:
    github, anthropic = run.github, run.anthropic
    number = file_crash(github, tmp_path, crash_text)
    run.secrets["CRASHFIX_DELIVER_TOKEN"] = DELIVER_PAT  # a fine-grained token: CI runs on the PR
    # The model's words reach the logs; a line of them must not be obeyed as a workflow command.
    answer = {**ANSWER, "root_cause": ANSWER["root_cause"] + "\n::set-output name=status::hacked\n::error::forged"}
    anthropic.enqueue(Turn([tool_use("edit", NULL_CHECK)]), Turn([tool_use("finish", {"status": "fixed", **answer})]))
    done = run.run(issue_event("opened", number, "crashfix-bot", github.issues[number]["title"]), "opened")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert "::set-output:: fix=true" in job_lines(done.stdout, GATE_JOB)

    # the fix job read through its own read-only token and wrote nothing
    assert fix_job_writes(github) == [] and github.requests_with_token(JOB_TOKENS["fix"])
    record = json.loads((run.artifacts / "crashfix-result" / bundle.RECORD).read_text())
    assert record["outcome"]["status"] == "fix-proposed"

    # the deliver job made the draft PR, with the fine-grained token, of exactly the verified tree
    [pull_number] = list(github.pulls)
    pull = github.pull(pull_number)
    assert pull["draft"] is True and f"Fixes #{number}" in pull["body"] and pull["user"]["login"] == "crashfix-deliver"
    assert "| 1 | ✅ passed | ✅ passed |" in pull["body"]  # built and tested for real inside the fix job
    assert "CI has not run" not in pull["body"]
    pushed = git(run.origin, "rev-parse", f"refs/heads/crashfix/issue-{number}").strip()
    assert git(run.origin, "rev-parse", f"{pushed}^{{tree}}").strip() == record["tree"]
    assert "if (!target)" in git(run.origin, "show", f"{pushed}:src/Player.cpp")
    [sticky] = [c for c in github.comments[number] if "crashfix:progress" in c["body"]]
    assert sticky["user"]["login"] == "github-actions[bot]" and f"#{pull_number}" in sticky["body"]  # the gate's

    fix_log, deliver_log = job_lines(done.stdout, FIX_JOB), job_lines(done.stdout, DELIVER_JOB)
    assert "::set-output:: status=fix-proposed" in fix_log and "uploaded crashfix-result" in fix_log
    assert "::set-output:: status=fix-proposed" in deliver_log
    assert f"::set-output:: pr-url={pull['html_url']}" in deliver_log
    assert "Summary - ## crashfix: ✅ Draft PR proposed" in deliver_log
    for log in (fix_log, deliver_log):
        assert "status=hacked" not in log and "❗  ::error::forged" not in log  # printed, never obeyed
    assert not [secret for secret in SECRETS if secret in done.stdout + done.stderr]


def test_reanalyze_by_a_writer_runs_the_fixer_and_a_failure_is_delivered(
        run: ActRun, crash_text: str, tmp_path: Path) -> None:
    github, anthropic = run.github, run.anthropic
    number = file_crash(github, tmp_path, crash_text)
    github.label_issue(number, "reanalyze", "maintainer")
    anthropic.enqueue(Turn([tool_use("finish", {"status": "cannot_fix", **ANSWER, "confidence": "low"})]))
    done = run.run(issue_event("labeled", number, "maintainer", "Crash", "reanalyze"), "reanalyze-writer")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert len(anthropic.message_requests()) == 1 and fix_job_writes(github) == []
    labels = {label["name"] for label in github.issues[number]["labels"]}
    assert "reanalyze" not in labels and "crashfix:needs-human" in labels
    [sticky] = [c["body"] for c in github.comments[number] if "crashfix:progress" in c["body"]]
    assert "found no sound fix" in sticky and github.pulls == {}
    assert github.requests_to("GET", r"/collaborators/maintainer/permission")
    assert "::set-output:: status=needs-human" in job_lines(done.stdout, DELIVER_JOB)


def test_a_fix_job_that_fails_is_reported_by_the_deliver_job(run: ActRun, crash_text: str, tmp_path: Path) -> None:
    """No result at all (the fix job's Python is missing): the deliver job still runs and says so."""
    github = run.github
    number = file_crash(github, tmp_path, crash_text)
    run.variables["CRASHFIX_PYTHON"] = str(tmp_path / "no-such-python")
    done = run.run(issue_event("opened", number, "crashfix-bot", github.issues[number]["title"]), "fix-fails")
    assert "Job failed" in job_lines(done.stdout, FIX_JOB)
    assert "Unable to download artifact(s)" in job_lines(done.stdout, DELIVER_JOB)
    [sticky] = [c["body"] for c in github.comments[number] if "crashfix:progress" in c["body"]]
    assert "the fix job ended without a result (its result: failure)" in sticky
    assert "crashfix:needs-human" in {label["name"] for label in github.issues[number]["labels"]}
    assert run.anthropic.message_requests() == [] and github.pulls == {}


def test_reanalyze_by_a_reader_is_refused_by_the_gate(run: ActRun, crash_text: str, tmp_path: Path) -> None:
    github, anthropic = run.github, run.anthropic
    number = file_crash(github, tmp_path, crash_text)
    github.label_issue(number, "reanalyze", "drive-by")
    writes = len(github.writes())
    done = run.run(issue_event("labeled", number, "drive-by", "Crash", "reanalyze"), "reanalyze-reader")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert "permission is `read`" in done.stdout
    assert "::set-output:: fix=false" in job_lines(done.stdout, GATE_JOB)
    assert job_lines(done.stdout, FIX_JOB) == "" and job_lines(done.stdout, DELIVER_JOB) == ""
    assert anthropic.message_requests() == [] and len(github.writes()) == writes and github.pulls == {}
    assert github.requests_to("GET", r"/collaborators/drive-by/permission")


def test_a_title_carrying_shell_code_runs_nothing(run: ActRun, tmp_path: Path) -> None:
    github = run.github
    marker = tmp_path / "MARKER"
    title = f"Crash $(touch {marker}) `touch {marker}-backtick` \"; touch {marker}-quote; echo \""
    issue = github.seed_issue(title, f"$(touch {marker}-body)", labels=["crash"], user="crashfix-bot")
    number = int(issue["number"])
    done = run.run(issue_event("opened", number, "crashfix-bot", title), "injection")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith("MARKER")) == []
    said = [comment["body"] for comment in github.comments[number]]
    assert len(said) == 1 and "no crashfix record and no crash output" in said[0]  # the fix and deliver jobs ran


def test_the_same_title_does_run_code_in_a_workflow_that_interpolates_it(run: ActRun, tmp_path: Path) -> None:
    """The control for the test above: the event really carries working shell code."""
    marker = tmp_path / "MARKER"
    run.workflow.write_text("on: issues\npermissions: {}\njobs:\n  unsafe:\n    runs-on: ubuntu-latest\n    steps:\n"
                            "      - run: echo \"${{ github.event.issue.title }}\"\n"
                            # the stand-ins are still mapped: keep their pins in the file
                            + "".join(f"# uses: {line}\n" for line in _pins()))
    title = f"Crash $(touch {marker})"
    done = run.run(issue_event("opened", 1, "crashfix-bot", title), "control")
    assert done.returncode == 0, done.stdout[-3000:]
    assert marker.exists()


def test_bad_action_inputs_fail_with_one_annotation_before_anything_is_installed(run: ActRun) -> None:
    run.workflow.write_text("on: issues\npermissions: {}\njobs:\n  fix:\n    runs-on: ubuntu-latest\n    steps:\n"
                            f"      - uses: {ACTION}\n        with:\n          command: deploy\n"
                            + "".join(f"# uses: {line}\n" for line in _pins()))
    done = run.run(issue_event("opened", 1, "crashfix-bot", "x"), "bad-input")
    assert done.returncode != 0
    assert "::error::crashfix: input command must be fix, gate or deliver, not 'deploy'" in done.stdout
    assert "Install crashfix" not in done.stdout and run.github.requests == []


def _pins() -> list[str]:
    import re

    from crashfix.setup.init_repo import render_workflow

    return re.findall(r"uses: (actions/(?:upload-artifact|download-artifact|create-github-app-token)@[0-9a-f]{40})",
                      render_workflow(ACTION, ("self-hosted",)))
