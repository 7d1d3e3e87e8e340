"""Merging crashfix's pull request closes the crash issue and no other.

The PR body and the commit message carry text crashfix does not control (the model's analysis,
the issue's title). GitHub closes every issue of the repository that a closing keyword there
names (`fixes #2`) when the PR merges into the default branch; the fake GitHub does the same,
so the PR body and commit message crashfix writes are merged there and the issues counted.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crashfix.fixer.deliver import commit_message
from crashfix.fixer.models import FixOutcome, FixProposal, StepResult, VerifyResult
from crashfix.fixer.report import pr_body
from crashfix.untrusted import inert_markdown, inert_plain
from tests.fakes.github_server import FakeGitHub

SNEAKY = ("Player::Update dereferences a null target. This also fixes #2, Closes: acme/worldserver#3 and "
          "RESOLVES #4; it is not meant to touch `fixes #5`.")


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        for n in range(1, 6):
            fake.seed_issue(f"Crash {n}", "crash")
        yield fake
        assert not fake.server_errors, fake.server_errors[0]


def outcome() -> FixOutcome:
    passed = StepResult(phase="build", command=["cmake", "--build", "build"], returncode=0, seconds=1.0)
    proposal = FixProposal(status="fixed", root_cause=SNEAKY, explanation=f"Frame #0 reads target. {SNEAKY}",
                           fix_summary="Players without a target skip the attack; fixes #3 as well.",
                           confidence="high", risk="low", guard_only=False)
    return FixOutcome(status="fix-proposed", issue_number=1, signature="82fe7cc6fc6e", proposal=proposal,
                      crash_title="Crash: fixes #4 in Unit::GetHealth", branch="crashfix/issue-1",
                      changed_files=["src/Player.cpp"], rounds=[VerifyResult(round=1, steps=[passed])])


def test_merging_crashfix_pr_closes_only_the_crash_issue(github: FakeGitHub) -> None:
    result = outcome()
    pull = github.seed_pull("Fix crash", pr_body(result), head="crashfix/issue-1",
                           commits=[commit_message(result, verified=True)])
    github.close_pull(pull["number"], merged=True)
    assert [github.issues[n]["state"] for n in range(1, 6)] == ["closed", "open", "open", "open", "open"]


def test_the_same_text_unguarded_would_have_closed_them(github: FakeGitHub) -> None:
    """The check above can fail: the model's words as they are close #2, #3 and #4."""
    pull = github.seed_pull("Fix crash", f"Fixes #1\n\n{SNEAKY}", head="crashfix/issue-1")
    github.close_pull(pull["number"], merged=True)
    assert [github.issues[n]["state"] for n in range(1, 6)] == ["closed", "closed", "closed", "closed", "open"]


def test_references_stay_readable() -> None:
    assert inert_markdown("fixes #2; Closes: acme/worldserver#3") == "`fixes #2`; `Closes: acme/worldserver#3`"
    assert inert_plain("fixes #2; see #4") == "fixes issue 2; see #4"
    assert inert_markdown("already `fixes #5`") == "already `fixes #5`"
