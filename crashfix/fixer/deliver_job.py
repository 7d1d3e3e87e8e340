"""`crashfix deliver`: the deliver job of the split workflow, on the far side of the trust boundary.

It runs on a GitHub-hosted runner with the write token and no API key, and runs no project
code: it reads `.github/crashfix.toml` from the default branch's checkout (text, never run),
takes the fix job's result bundle (`bundle`), validates it, makes the commit itself in a fresh
repository from the base commit fetched from GitHub (so what is pushed is exactly what was
verified: every blob hash and the tree are checked), pushes `crashfix/issue-N`, opens or updates
the draft PR, writes the final state into the sticky comment, sets the labels and sends the
chat message. When the fix job left no result, or one that does not hold, the issue says so
and gets `crashfix:needs-human`. This module never imports the model client.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from crashfix.actions import workflow
from crashfix.config import Config, load_config, repo_config_path
from crashfix.errors import CrashfixError, UsageError
from crashfix.fixer import attempts, bundle
from crashfix.fixer.channel import IssueChannel
from crashfix.fixer.checkout.gitops import DiffStats, Git, GitError, ScratchRepo
from crashfix.fixer.deliver import Delivery, commit_message, deliver
from crashfix.fixer.gate import REFUSED_MARKER, Decision, refusal_comment
from crashfix.fixer.models import FixOutcome
from crashfix.fixer.report import PHASES, Progress
from crashfix.github.connect import client_from, repository_name
from crashfix.scrub import secret_values_in
from crashfix.untrusted import inert_markdown

log = logging.getLogger(__name__)

CI_NOTE = ("This branch was pushed with the workflow's own `GITHUB_TOKEN`, and GitHub starts no workflow run for "
           "that: the repository's CI has not run on this pull request. Close and reopen it (or push to it) to start "
           "CI, or give crashfix's deliver job a GitHub App or fine-grained token (see crashfix's README).")


@dataclass(frozen=True)
class DeliverOptions:
    bundle: Path
    issue: int
    checkout: Path = Path(".")
    repo: str | None = None
    config: Path | None = None
    fix_result: str | None = None  # the fix job's result (success, failure, cancelled), said when no bundle came
    dry_run: bool = False


def run_deliver(options: DeliverOptions, environ: Mapping[str, str]) -> tuple[FixOutcome, Config]:
    """Deliver the fix job's result for issue `options.issue`; CrashfixErrors of the bundle are reported on it."""
    config = load_config(repo_config_path(options.checkout, options.config))
    settings = config.fix
    name = repository_name(options.repo, environ)
    if not name:
        raise UsageError("no repository", "pass --repo OWNER/NAME (Actions sets GITHUB_REPOSITORY)")
    client = client_from(environ, write_interval=1.0)
    repo = client.repository(name)
    issue = repo.issue(options.issue)
    channel = IssueChannel(repo, options.issue, dry_run=options.dry_run, viewer=client.login_or_none(),
                           labels=issue.labels)
    branch = f"{settings.branch_prefix}{options.issue}"
    progress = Progress(run_url=workflow.run_url(environ))
    record: bundle.Bundle | None = None
    patch: bytes | None = None
    try:
        record, patch = bundle.read(options.bundle, repository=repo.full_name, issue=options.issue, branch=branch)
        outcome = record.outcome.model_copy(update={"branch": branch, "commit": None, "pull_number": None,
                                                    "pull_url": None, "repository": repo.full_name,
                                                    "issue_number": options.issue})  # `Fixes #N` is ours
        progress.states.update({phase: state for phase, state in record.progress.items() if phase in PHASES})
    except bundle.BundleRefused as refused:
        outcome = _no_result(options, repo.full_name, issue.title, refused)
    if outcome.status == "refused":
        why = outcome.reason.removeprefix("not started: ")
        channel.comment_once(REFUSED_MARKER, refusal_comment(Decision(False, why), settings))
        return outcome, config
    if outcome.status == "skipped":
        channel.report(progress, "crashfix found no crash to fix", outcome,
                       f"**Skipped:** {inert_markdown(outcome.reason, 1000, one_line=True)}.")
        return outcome, config
    git = Git(Path(tempfile.gettempdir()), environ, secrets=secret_values_in(environ, settings.keep_env))
    token = environ.get("GITHUB_TOKEN") or None
    with git.scratch(own_objects=True) as scratch:
        expect = _commit(scratch, repo.clone_url, git.auth(token), record, patch, outcome, branch,
                         settings.base_branch or repo.default_branch)
        expect = _route(scratch, repo.clone_url, git.auth(token), outcome, expect)

        def push() -> None:
            assert outcome.commit is not None and outcome.branch is not None
            scratch.push(repo.clone_url, outcome.commit, outcome.branch, git.auth(token), expect)

        note = CI_NOTE if token and token == environ.get("CRASHFIX_ACTIONS_TOKEN") else ""
        deliver(Delivery(repo=repo, settings=settings, outcome=outcome, channel=channel, progress=progress,
                         report=lambda headline, footer="", final=False: channel.report(
                             progress, headline, outcome if final else None, footer),
                         push=push, base_branch=settings.base_branch, dry_run=options.dry_run, note=note))
    return outcome, config


def _commit(scratch: ScratchRepo, url: str, auth: Mapping[str, str], record: bundle.Bundle | None,
            patch: bytes | None, outcome: FixOutcome, branch: str, base_branch: str) -> str:
    """The verified commit made here from the bundle (outcome.commit), or the reason it cannot be; the lease."""
    if record is None or patch is None:
        return ""
    verified = outcome.status == "fix-proposed"
    try:
        outcome.commit, expect = bundle.apply(scratch, url, auth, record, patch, branch=branch,
                                              base_branch=base_branch, message=commit_message(outcome, verified))
    except (bundle.BundleRefused, GitError) as error:
        outcome.status = "needs-human"
        outcome.reason = f"the fix job's change was not delivered: {error.one_line()}"
        outcome.changed_files, outcome.diff_stats = [], None
        log.warning("%s", outcome.reason)
        return ""
    assert record.base_commit is not None
    outcome.changed_files = sorted(record.files)  # said by what is committed here, not by the fix job
    numstat = scratch.run("diff-tree", "-r", "--numstat", "--no-renames", record.base_commit, outcome.commit)
    outcome.diff_stats = DiffStats.from_numstat(numstat).describe()
    return expect


def _route(scratch: ScratchRepo, url: str, auth: Mapping[str, str], outcome: FixOutcome, expect: str) -> str:
    """An unverified result never replaces a verified tip (`attempts`): it goes to an attempt branch; the lease."""
    if outcome.status == "fix-proposed" or outcome.commit is None or not expect:
        return expect
    if attempts.replaceable(scratch.run("log", "-1", "--format=%B", "refs/crashfix/base")):  # the fetched tip
        return expect
    kept = outcome.branch
    assert kept is not None
    listing = scratch.run("ls-remote", "--heads", url, attempts.attempt_pattern(kept), extra=auth)
    outcome.branch = attempts.attempt_branch(kept, attempts.listed_heads(listing))
    outcome.reason += f"; the verified commit on {kept} was kept, this attempt went to {outcome.branch}"
    return ""  # a new branch: the push is refused if someone took the name meanwhile


def _no_result(options: DeliverOptions, repository: str, title: str, refused: CrashfixError) -> FixOutcome:
    """What the issue is told when the fix job left no result that holds."""
    missing = not (options.bundle / bundle.RECORD).is_file()
    if missing and options.fix_result and options.fix_result != "success":
        reason = f"the fix job ended without a result (its result: {options.fix_result}); see the workflow run"
    else:
        reason = f"the fix job's result was not delivered: {refused.one_line()}"
    return FixOutcome(status="needs-human", reason=reason, issue_number=options.issue, repository=repository,
                      crash_title=title, retry_hint="See the workflow run for the fix job's log; add the label "
                                                    "`reanalyze` to try again.")
