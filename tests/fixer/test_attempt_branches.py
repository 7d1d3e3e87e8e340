"""A re-run that does not verify never replaces the verified fix on `crashfix/issue-N`: on the one-job
path and through the split workflow's deliver job, its attempt goes to `crashfix/issue-N-attempt-K`
and the issue names that branch. Real git (a bare origin, or one served over smart HTTP), real
cmake builds, the fake GitHub and the fake Anthropic API behind the real clients."""

from __future__ import annotations

from pathlib import Path

import pytest

from crashfix.fixer.attempts import attempt_branch, replaceable
from crashfix.fixer.deliver import commit_message
from crashfix.fixer.models import FixOutcome
from tests.fakes.anthropic_server import FakeAnthropic, Turn, tool_use
from tests.fakes.github_server import FakeGitHub
from tests.fixer.helpers import fix_environment, git, run_cli
from tests.fixer.split_helpers import Split
from tests.fixer.test_fix_e2e import FIXED, NULL_CHECK, comments, event, filed, github  # noqa: F401 - fixtures
from tests.fixer.test_split import split  # noqa: F401 - the fixture

pytestmark = pytest.mark.tools

BREAK = {"path": "src/Player.cpp", "old_text": "if (!target)", "new_text": "if (!targett)"}


def never_compiles() -> list[Turn]:
    """A change that does not build, and two repair rounds that change nothing (repair_rounds = 3)."""
    return [Turn([tool_use("edit", BREAK), tool_use("finish", FIXED)]),
            *[Turn([tool_use("finish", FIXED)]) for _ in range(2)]]


def test_a_failing_rerun_goes_to_an_attempt_branch_on_the_one_job_path(
        github: FakeGitHub, anthropic: FakeAnthropic, filed: tuple[Path, Path, int], tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    origin, checkout, number = filed
    branch = f"crashfix/issue-{number}"
    anthropic.enqueue(Turn([tool_use("edit", NULL_CHECK), tool_use("finish", FIXED)]))
    opened = fix_environment(github, anthropic.url, tmp_path, **event(tmp_path, "opened", "crashfix-bot"))
    assert run_cli(monkeypatch, ["fix", "--issue", str(number), "--checkout", str(checkout)], opened) == 0
    [pull] = list(github.pulls)
    verified = git(origin, "rev-parse", f"refs/heads/{branch}").strip()

    github.label_issue(number, "reanalyze", "maintainer")
    anthropic.enqueue(*never_compiles())
    again = fix_environment(github, anthropic.url, tmp_path, **event(tmp_path, "labeled", "maintainer", "reanalyze"))
    assert run_cli(monkeypatch, ["fix", "--issue", str(number), "--checkout", str(checkout)], again) == 0

    assert git(origin, "rev-parse", f"refs/heads/{branch}").strip() == verified  # untouched
    attempt = git(origin, "rev-parse", f"refs/heads/{branch}-attempt-2").strip()
    assert git(origin, "rev-parse", f"{attempt}~1").strip() == verified
    assert "if (!targett)" in git(origin, "show", f"{attempt}:src/Player.cpp")
    assert list(github.pulls) == [pull] and github.pull(pull)["head"]["ref"] == branch
    sticky = next(body for body in comments(github, number) if "crashfix:progress" in body)
    assert f"`{branch}-attempt-2`" in sticky and f"the verified commit on {branch} was kept" in sticky

    # A third failing run takes the next free number; the verified branch still stays.
    github.label_issue(number, "reanalyze", "maintainer")
    anthropic.enqueue(*never_compiles())
    assert run_cli(monkeypatch, ["fix", "--issue", str(number), "--checkout", str(checkout)], again) == 0
    assert git(origin, "rev-parse", f"refs/heads/{branch}").strip() == verified
    assert git(origin, "rev-parse", "--verify", f"refs/heads/{branch}-attempt-3").strip()


def test_the_deliver_job_puts_a_failing_rerun_on_an_attempt_branch(
        split: tuple[Split, int], anthropic: FakeAnthropic, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    setup, number = split
    branch = f"crashfix/issue-{number}"
    anthropic.enqueue(Turn([tool_use("edit", NULL_CHECK), tool_use("finish", FIXED)]))
    first = tmp_path / "first"
    assert setup.fix(monkeypatch, number, anthropic.url, setup.event("opened", "crashfix-bot"), first) == 0
    assert setup.deliver(monkeypatch, number, first) == 0
    verified = git(setup.origin, "rev-parse", f"refs/heads/{branch}").strip()

    setup.github.label_issue(number, "reanalyze", "maintainer")
    trigger = setup.event("labeled", "maintainer", "reanalyze")
    assert setup.gate(monkeypatch, number, trigger) == 0
    anthropic.enqueue(*never_compiles())
    second = tmp_path / "second"
    assert setup.fix(monkeypatch, number, anthropic.url, trigger, second) == 0
    assert setup.deliver(monkeypatch, number, second) == 0

    assert git(setup.origin, "rev-parse", f"refs/heads/{branch}").strip() == verified
    attempt = git(setup.origin, "rev-parse", f"refs/heads/{branch}-attempt-2").strip()
    assert "if (!targett)" in git(setup.origin, "show", f"{attempt}:src/Player.cpp")
    assert "Crashfix-Verified: no" in git(setup.origin, "log", "-1", "--format=%B", attempt)
    final = next(c["body"] for c in setup.github.comments[number] if "crashfix:progress" in c["body"])
    assert f"`{branch}-attempt-2`" in final and "was kept" in final


def test_which_tips_an_unverified_attempt_may_replace() -> None:
    outcome = FixOutcome(status="needs-human", issue_number=7, signature="abc123", crash_title="Crash: x")
    assert replaceable(commit_message(outcome, verified=False))
    assert not replaceable(commit_message(outcome.model_copy(update={"status": "fix-proposed"}), verified=True))
    assert not replaceable("Fix the null target by hand\n\nSigned-off-by: dev\n")  # someone's own commit stays
    assert replaceable("Unverified crashfix attempt for #7\n\nProposed-By: crashfix (NOT verified)\n")  # older
    assert not replaceable("Fix crash in x\n\nProposed-By: crashfix (built and tested)\n")
    assert attempt_branch("crashfix/issue-7", []) == "crashfix/issue-7-attempt-2"
    assert attempt_branch("crashfix/issue-7", ["crashfix/issue-7-attempt-2", "crashfix/issue-7-attempt-5",
                                               "crashfix/issue-7-attempt-x"]) == "crashfix/issue-7-attempt-6"
