"""The end of a fix on GitHub: push, draft PR, labels and the final word on the issue.

Used by both layouts: the one-job `crashfix fix` (local use, or a single job holding the
write token) and the deliver job of the split workflow (`deliver_job`), which gets the fix
job's result as a bundle. Success: the verified commit on `crashfix/issue-N`, pushed, and a
draft PR that says `Fixes #N` (created once, then updated by re-runs). Failure: the issue says
what was tried and why it stopped; a partial change is pushed to the branch unless that would
put an unverified commit onto an open PR under review. A verified fix that cannot be delivered
(push rejected, GitHub down) is reported as a failure, not lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashfix.config import FixSettings
from crashfix.errors import CrashfixError
from crashfix.fixer.attempts import trailer
from crashfix.fixer.channel import IssueChannel
from crashfix.fixer.models import FixOutcome
from crashfix.fixer.report import Progress, failure_text, pr_body, pr_title
from crashfix.untrusted import inert_plain

if TYPE_CHECKING:
    from crashfix.github.api import RepoAPI

log = logging.getLogger(__name__)
SUBJECT_CHARS = 72
Report = Callable[..., None]  # (headline, footer="", final=False): the sticky comment


def commit_message(outcome: FixOutcome, verified: bool) -> str:
    """The commit's message; the crash title and the model's root cause cannot close or mention anything."""
    title = inert_plain(outcome.crash_title.removeprefix("Crash: "), 200)
    subject = shorten(f"Fix crash in {title}") if verified else (
        "Unverified crashfix attempt for " + (f"#{outcome.issue_number}" if outcome.issue_number is not None
                                              else f"crash {outcome.signature or '?'}"))
    body = [inert_plain(outcome.proposal.root_cause.strip() if outcome.proposal else outcome.reason, 4000), ""]
    if outcome.issue_number is not None:
        body.append(f"{'Fixes' if verified else 'Refs'} #{outcome.issue_number}")
    body.append(f"Crash-Signature: {outcome.signature}")
    body.append("Proposed-By: crashfix (" + (outcome.level_text if verified else "NOT verified") + ")")
    body.append(trailer(verified))  # how a later run tells a verified tip it must keep (`attempts`)
    return subject + "\n\n" + "\n".join(body).strip() + "\n"


def shorten(text: str, limit: int = SUBJECT_CHARS) -> str:
    """`text` within `limit` characters, cut at a word boundary with an ellipsis (git's ~72-character subject)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 3]
    if " " in cut[limit // 2:]:  # a word boundary in the second half: cut there, not mid-word
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:-(") + "..."


@dataclass
class Delivery:
    """What delivering one finished run needs, whichever job does it."""

    repo: RepoAPI | None
    settings: FixSettings
    outcome: FixOutcome
    channel: IssueChannel | None
    progress: Progress
    report: Report
    push: Callable[[], None]  # outcome.commit to outcome.branch; raises CrashfixError
    base_branch: str | None = None
    dry_run: bool = False
    note: str = ""  # a sentence for the PR body, e.g. why the repository's CI has not run


def deliver(run: Delivery) -> None:
    outcome = run.outcome
    success = outcome.status in ("fix-proposed", "local") and outcome.commit is not None
    if run.repo is None:
        if success:
            outcome.reason = f"{outcome.level_text}: committed on local branch {outcome.branch}; nothing was pushed"
        run.progress.set("Deliver", "done" if success else "skipped",
                         f"committed on {outcome.branch}" if success else "no verified fix")
        return
    if success:
        try:
            _propose(run)
            return
        except CrashfixError as error:  # a rejected push, GitHub down: say so where people look
            outcome.status = "needs-human"
            outcome.reason = f"the fix was built and tested but could not be delivered: {error.one_line()}"
            log.warning("delivery failed: %s", error.one_line())
    elif outcome.status in ("fix-proposed", "local"):
        outcome.status = "needs-human"
    try:
        _give_up(run)
    except CrashfixError as error:
        outcome.reason += f"; reporting it on the issue failed too: {error.one_line()}"
        log.warning("could not report on the issue: %s", error.one_line())


def _propose(run: Delivery) -> None:
    outcome, repo = run.outcome, run.repo
    assert repo is not None and outcome.branch is not None
    if run.dry_run:
        outcome.status = "dry-run"
        outcome.reason = f"verified fix committed locally on {outcome.branch}; dry run: nothing pushed"
        run.progress.set("Deliver", "skipped", "dry run")
        run.report("crashfix: dry run finished", final=True)
        return
    run.push()
    title, body = pr_title(outcome), pr_body(outcome, run.note)
    pull = repo.find_pull(outcome.branch)
    if pull is not None and not pull.merged:
        pull = repo.update_pull(pull.number, title=title, body=body, reopen=pull.state != "open")
    else:
        base = run.base_branch or repo.default_branch
        pull = repo.create_pull(title=title, body=body, head=outcome.branch, base=base)
    outcome.pull_number, outcome.pull_url = pull.number, pull.html_url
    outcome.reason = f"draft PR #{pull.number} ({outcome.diff_stats}): {outcome.level_text}"
    assert run.channel is not None
    run.channel.labels(add=(run.settings.fix_proposed_label,), remove=(run.settings.needs_human_label,))
    run.progress.set("Deliver", "done", f"draft PR #{pull.number}")
    run.report(f"crashfix proposed a fix: #{pull.number}", final=True)


def _give_up(run: Delivery) -> None:
    outcome, repo = run.outcome, run.repo
    assert repo is not None and run.channel is not None
    if outcome.commit and outcome.branch and not run.dry_run:
        pull = repo.find_pull(outcome.branch)
        if pull is not None and pull.state == "open":
            outcome.commit = None  # keep the reviewed PR as it is
            outcome.retry_hint = (f"The open draft PR #{pull.number} was left unchanged. Add the label "
                                  "`reanalyze` to try again.")
        else:
            try:
                run.push()
            except CrashfixError as error:  # the issue must still hear why the run stopped
                outcome.commit = None
                log.warning("could not push the partial change: %s", error.one_line())
    if not run.dry_run:
        run.channel.labels(add=(run.settings.needs_human_label,))
    for phase, (state, _) in list(run.progress.states.items()):
        if state in ("pending", "running"):
            run.progress.set(phase, "skipped", "no verified fix" if phase == "Deliver" else "not reached")
    run.report("crashfix could not propose a verified fix", footer=failure_text(outcome), final=True)
