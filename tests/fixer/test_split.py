"""The split workflow through the real CLI: the fix job, holding a read-only token, builds and tests
for real and writes nothing to GitHub; the deliver job, with the write token and no API key, turns
its result bundle into the pushed branch and the draft PR, or says on the issue why not."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crashfix.fixer import bundle
from crashfix.fixer.checkout.gitops import blob_hash
from crashfix.issues.progress import read_state
from tests.fakes.anthropic_server import FakeAnthropic, Turn, tool_use
from tests.fakes.github_server import FakeGitHub
from tests.fixer.helpers import TOKEN, file_crash, game_repository, git
from tests.fixer.split_helpers import GATE_TOKEN, READ_TOKEN, WRITE_TOKEN, Split, split_setup
from tests.fixer.test_fix_e2e import FIXED, NULL_CHECK

pytestmark = pytest.mark.tools


@pytest.fixture
def split(tmp_path: Path, crash_text: str) -> Iterator[tuple[Split, int]]:
    with FakeGitHub(owner="acme", repo="worldserver", token=TOKEN) as github:
        github.set_permission("maintainer", "maintain")
        origin, checkout = game_repository(tmp_path)
        number = file_crash(github, tmp_path, crash_text)
        with split_setup(github, origin, checkout, tmp_path, TOKEN) as setup:
            yield setup, number
        assert not github.server_errors, github.server_errors[0]


def sticky(github: FakeGitHub, number: int) -> list[dict[str, Any]]:
    return [c for c in github.comments[number] if "crashfix:progress" in c["body"]]


def labels(github: FakeGitHub, number: int) -> set[str]:
    return {label["name"] for label in github.issues[number]["labels"]}


def test_a_crash_becomes_a_draft_pr_across_the_trust_boundary(split: tuple[Split, int], anthropic: FakeAnthropic,
                                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    setup, number = split
    github = setup.github
    trigger = setup.event("opened", "crashfix-bot")
    assert setup.gate(monkeypatch, number, trigger) == 0
    [working] = sticky(github, number)
    assert "working" in working["body"] and working["user"]["login"] == "github-actions[bot]"

    anthropic.enqueue(Turn([tool_use("edit", NULL_CHECK)]), Turn([tool_use("finish", FIXED)]))
    result = tmp_path / "result"
    assert setup.fix(monkeypatch, number, anthropic.url, trigger, result, GITHUB_STEP_SUMMARY=str(tmp_path / "s")) == 0
    assert setup.writes_with(READ_TOKEN) == [] and setup.github.requests_with_token(READ_TOKEN)  # read, never wrote
    assert f"crashfix/issue-{number}" not in git(setup.origin, "branch", "--list")  # nothing pushed by the runner
    record = json.loads((result / bundle.RECORD).read_text())
    patch = (result / bundle.PATCH).read_text()
    assert record["outcome"]["status"] == "fix-proposed" and list(record["files"]) == ["src/Player.cpp"]
    assert "if (!target)" in patch and ".github" not in patch
    assert "Verified fix, handed to the deliver job" in (tmp_path / "s").read_text()

    assert setup.deliver(monkeypatch, number, result) == 0
    [pull_number] = list(github.pulls)
    pull = github.pull(pull_number)
    assert pull["draft"] and f"Fixes #{pull_number}" not in pull["body"] and f"Fixes #{number}" in pull["body"]
    assert "| 1 | ✅ passed | ✅ passed |" in pull["body"]
    pushed = git(setup.origin, "rev-parse", f"refs/heads/crashfix/issue-{number}").strip()
    verified = (setup.checkout / "src" / "Player.cpp").read_bytes()
    assert git(setup.origin, "rev-parse", f"{pushed}:src/Player.cpp").strip() == blob_hash(verified)
    assert git(setup.origin, "rev-parse", f"{pushed}^{{tree}}").strip() == record["tree"]
    assert git(setup.origin, "diff", "--name-only", f"{pushed}~1", pushed).split() == ["src/Player.cpp"]
    [final] = sticky(github, number)  # the gate's comment, now carrying the outcome
    assert final["id"] == working["id"] and f"#{pull_number}" in final["body"]
    state = read_state(final["body"])
    assert state is not None and state["status"] == "fix-proposed" and state["commit"] == pushed
    assert labels(github, number) >= {"crashfix:fix-proposed"}
    assert {r.method for r in setup.writes_with(WRITE_TOKEN)} >= {"POST", "PATCH"}
    assert "CI has not run" not in pull["body"]  # the write token is not the workflow's own


def test_with_the_workflows_own_token_the_pr_says_ci_did_not_run(split: tuple[Split, int], anthropic: FakeAnthropic,
                                                                 tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    setup, number = split
    anthropic.enqueue(Turn([tool_use("edit", NULL_CHECK), tool_use("finish", FIXED)]))
    result = tmp_path / "result"
    assert setup.fix(monkeypatch, number, anthropic.url, setup.event("opened", "crashfix-bot"), result) == 0
    assert setup.deliver(monkeypatch, number, result, CRASHFIX_ACTIONS_TOKEN=WRITE_TOKEN) == 0
    body = setup.github.pull(next(iter(setup.github.pulls)))["body"]
    assert "the repository's CI has not run on this pull request" in body


def test_a_failed_fix_travels_the_same_way(split: tuple[Split, int], anthropic: FakeAnthropic, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    setup, number = split
    anthropic.enqueue(Turn([tool_use("finish", {**FIXED, "status": "cannot_fix", "confidence": "low"})]))
    result = tmp_path / "result"
    assert setup.fix(monkeypatch, number, anthropic.url, setup.event("opened", "crashfix-bot"), result) == 0
    assert setup.writes_with(READ_TOKEN) == [] and not (result / bundle.PATCH).exists()
    assert setup.deliver(monkeypatch, number, result) == 0
    [final] = sticky(setup.github, number)
    assert "found no sound fix" in final["body"] and "crashfix:needs-human" in labels(setup.github, number)
    assert setup.github.pulls == {}


def test_no_result_from_the_fix_job_is_said_on_the_issue(split: tuple[Split, int], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    setup, number = split
    assert setup.deliver(monkeypatch, number, tmp_path / "never-downloaded", fix_result="failure") == 0
    [final] = sticky(setup.github, number)
    assert "the fix job ended without a result" in final["body"]
    assert "crashfix:needs-human" in labels(setup.github, number) and setup.github.pulls == {}


def test_the_fix_jobs_token_cannot_write(split: tuple[Split, int]) -> None:
    """The fake refuses a write with the read-only token as GitHub does, so "no write was tried" means something."""
    from crashfix.github.connect import client_from
    from crashfix.github.records import GitHubAuthError

    setup, number = split
    repo = client_from({"GITHUB_API_URL": setup.github.url}, token=READ_TOKEN, write_interval=0.0).repository(
        "acme/worldserver")
    assert repo.issue(number).number == number  # reading works
    with pytest.raises(GitHubAuthError, match="403: Resource not accessible by integration"):
        repo.comment(number, "written by the fix job")
    refused = subprocess.run(["git", "-c", f"http.extraheader=AUTHORIZATION: basic {_basic(READ_TOKEN)}", "push",
                              "origin", "HEAD:refs/heads/stolen"], cwd=setup.checkout, capture_output=True, text=True)
    assert refused.returncode != 0 and "403" in refused.stderr, refused.stderr
    assert "stolen" not in git(setup.origin, "branch", "--list")
    assert GATE_TOKEN != READ_TOKEN


def _basic(token: str) -> str:
    import base64

    return base64.b64encode(f"x-access-token:{token}".encode()).decode()


def test_a_reanalysis_keeps_the_record_while_working_and_continues_the_branch(
        split: tuple[Split, int], anthropic: FakeAnthropic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    setup, number = split
    github = setup.github
    anthropic.enqueue(Turn([tool_use("edit", NULL_CHECK), tool_use("finish", FIXED)]))
    first = tmp_path / "first"
    assert setup.fix(monkeypatch, number, anthropic.url, setup.event("opened", "crashfix-bot"), first) == 0
    assert setup.deliver(monkeypatch, number, first) == 0
    tip = git(setup.origin, "rev-parse", f"refs/heads/crashfix/issue-{number}").strip()

    github.label_issue(number, "reanalyze", "maintainer")
    trigger = setup.event("labeled", "maintainer", "reanalyze")
    assert setup.gate(monkeypatch, number, trigger) == 0
    [working] = sticky(github, number)
    record = read_state(working["body"])
    assert "working" in working["body"] and record is not None and record["attempts"] == 1  # kept for the cap
    assert "reanalyze" not in labels(github, number)  # taken off by the gate: the fix job may not write

    fresh = tmp_path / "second-runner"
    git(tmp_path, "-c", f"http.extraheader=AUTHORIZATION: basic {_basic(TOKEN)}", "clone", "-q", setup.url, str(fresh))
    setup.checkout = fresh
    anthropic.enqueue(Turn([tool_use("edit", {"path": "src/Player.cpp", "old_text": "        return; // no target",
                                              "new_text": "        return; // still no target"}),
                            tool_use("finish", {**FIXED, "fix_summary": "Second attempt."})]))
    second = tmp_path / "second"
    assert setup.fix(monkeypatch, number, anthropic.url, trigger, second) == 0
    assert setup.writes_with(READ_TOKEN) == []
    assert setup.deliver(monkeypatch, number, second) == 0
    new_tip = git(setup.origin, "rev-parse", f"refs/heads/crashfix/issue-{number}").strip()
    assert git(setup.origin, "rev-parse", f"{new_tip}~1").strip() == tip  # continued, not rewritten
    [final] = sticky(github, number)
    state = read_state(final["body"])
    assert state is not None and (state["attempts"], state["reanalyzed"]) == (2, 1)
    assert list(github.pulls) and "Second attempt." in github.pull(next(iter(github.pulls)))["body"]


def test_the_deliver_job_closes_only_the_issue_it_runs_for(split: tuple[Split, int], anthropic: FakeAnthropic,
                                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundle comes from the machine that ran model-written code: its idea of the issue number is not used."""
    setup, number = split
    anthropic.enqueue(Turn([tool_use("edit", NULL_CHECK), tool_use("finish", FIXED)]))
    result = tmp_path / "result"
    assert setup.fix(monkeypatch, number, anthropic.url, setup.event("opened", "crashfix-bot"), result) == 0
    record = json.loads((result / bundle.RECORD).read_text())
    record["outcome"]["issue_number"] = number + 40  # another issue, which a merge would close
    (result / bundle.RECORD).write_text(json.dumps(record))
    assert setup.deliver(monkeypatch, number, result) == 0
    [pull_number] = list(setup.github.pulls)
    body = setup.github.pull(pull_number)["body"]
    assert f"Fixes #{number}\n" in body and f"#{number + 40}" not in body
    pushed = git(setup.origin, "log", "-1", "--format=%B", f"refs/heads/crashfix/issue-{number}")
    assert f"#{number + 40}" not in pushed


def test_a_skipped_or_refused_bundle_says_its_reason_inertly(split: tuple[Split, int], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    setup, number = split
    assert setup.deliver(monkeypatch, number, tmp_path / "none", fix_result="failure") == 0  # a valid record to edit
    from tests.test_untrusted import acting

    for status in ("skipped", "refused"):
        result = tmp_path / status
        result.mkdir()
        outcome = {"status": status, "reason": "not started: @octocat and @acme/owners: closes #3",
                   "issue_number": number}
        record = {"repository": "acme/worldserver", "issue": number, "branch": f"crashfix/issue-{number}",
                  "outcome": outcome, "progress": {}}
        (result / bundle.RECORD).write_text(json.dumps(record))
        assert setup.deliver(monkeypatch, number, result) == 0
        written = [c["body"] for c in setup.github.comments[number] if "@octocat" in c["body"]]
        assert written, f"the {status} reason was not said on the issue"
        assert all(a.startswith(("<", "link to")) for body in written for a in acting(body)), written
