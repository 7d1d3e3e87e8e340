"""Every place crashfix writes model- or crash-derived text to GitHub, rendered by GitHub's own Markdown
(cmark-gfm): the PR body, the progress comment (a run that proposed a fix and one that gave up), the job
summary, the commit message and the PR title. With hostile text in every field the model or a crash
fills, the only things that act are crashfix's own: its `Fixes #N`, its link to the run, its PR number."""

from __future__ import annotations

import re

from crashfix.fixer.deliver import commit_message
from crashfix.fixer.models import Diagnostic, FixOutcome, FixProposal, StepResult, TokenUse, VerifyResult
from crashfix.fixer.report import Progress, failure_text, job_summary, pr_body, pr_title
from tests.test_untrusted import CLOSING, acting

HOSTILE = ("@everyone @acme/maintainers closes #4, resolves acme/worldserver#5 and fixes "
           "https://github.com/acme/worldserver/issues/6 ![x](https://evil.example/p.png) "
           "[login](https://evil.example/login) <img src=x onerror=alert(1)> `` ` @bob")


def hostile_outcome(status: str = "fix-proposed") -> FixOutcome:
    proposal = FixProposal(status="fixed", root_cause=HOSTILE, explanation=HOSTILE, fix_summary=HOSTILE,
                           confidence="high", risk="low", guard_only=False)
    failed = StepResult(phase="build", command=["cmake"], returncode=2, seconds=1.0, output_tail=HOSTILE,
                        diagnostics=[Diagnostic(tool="gcc", path="src/@bob.cpp", line=3, message=HOSTILE)])
    passed = StepResult(phase="build", command=["cmake"], returncode=0, seconds=1.0)
    return FixOutcome(status=status, reason=HOSTILE, issue_number=7, repository="acme/worldserver",
                      signature="abcdef123456", crash_title=f"Crash: {HOSTILE}", branch="crashfix/issue-7",
                      commit="0" * 40, pull_number=12, proposal=proposal, changed_files=["src/@bob.cpp"],
                      diff_stats="1 file(s), +2 −0", located=["src/#5.cpp"],
                      rounds=[VerifyResult(round=1, steps=[failed]), VerifyResult(round=2, steps=[passed])],
                      tool_calls={"edit": 1, "@everyone": 1}, usage=TokenUse(turns=2, cost_usd=0.01),
                      retry_hint=HOSTILE)


def test_the_pr_body_closes_and_mentions_only_what_crashfix_means() -> None:
    body = pr_body(hostile_outcome(), note="pushed with GITHUB_TOKEN")
    # crashfix's own `Fixes #7` and its collapsed explanation; nothing of the model's
    assert acting(body) == ["<details>", "<summary>", "reference #7"]
    assert [m.group(0) for m in CLOSING.finditer(re.sub(r"`[^`]*`", "", body))] == ["Fixes #7"]


def test_the_progress_comment_and_the_job_summary_act_only_for_crashfix() -> None:
    progress = Progress(run_url="https://github.com/acme/worldserver/actions/runs/1")
    for phase in ("Gate", "Locate", "Analyse", "Build & test", "Deliver"):
        progress.set(phase, "failed", HOSTILE)
    given_up = progress.render("crashfix could not propose a verified fix", hostile_outcome("needs-human"),
                               failure_text(hostile_outcome("needs-human")))
    assert acting(given_up) == ["<a>", "link to https://github.com/acme/worldserver/actions/runs/1"]
    proposed = progress.render("crashfix proposed a fix: #12", hostile_outcome())
    assert sorted(acting(proposed)) == ["<a>", "link to https://github.com/acme/worldserver/actions/runs/1",
                                        "reference #12"]
    assert acting(job_summary(hostile_outcome("needs-human"))) == ["reference #7"]  # "for #7", its own


def test_the_commit_message_and_the_title_close_nothing_of_the_models() -> None:
    message = commit_message(hostile_outcome(), verified=True)
    assert [m.group(0) for m in CLOSING.finditer(message)] == ["Fixes #7"]
    assert "@everyone" not in message.replace("`@everyone`", "")
    assert not CLOSING.search(pr_title(hostile_outcome()))
    assert not CLOSING.search(commit_message(hostile_outcome("needs-human"), verified=False))


def test_a_body_cut_to_githubs_limit_leaves_no_code_span_open() -> None:
    """Escaping grows text (`<` -> `&lt;`), so a long answer reaches the cut; a cut inside a line would
    drop the closing backtick of a span and free what it held."""
    outcome = hostile_outcome()
    assert outcome.proposal is not None
    outcome.proposal = outcome.proposal.model_copy(update={
        "root_cause": "<" * 4000, "fix_summary": "<" * 4000, "explanation": "<" * 6926 + " a fixes #5 @octocat"})
    body = pr_body(outcome)
    assert len(body) <= 60000 and "cut to fit" in body
    assert acting(body) == ["<details>", "<summary>", "reference #7"]
