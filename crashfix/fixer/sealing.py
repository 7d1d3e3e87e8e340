"""The end of a fix run: what it cost and took, the commit of exactly the verified bytes, where it goes.

`Sealing` is the second half of `run._Run` (a mixin over the same state): once the rounds end,
the model's bytes are committed onto the base commit recorded before anything ran, checked
against the base's full file listing taken before any build (`checkout.integrity`), routed to
an attempt branch when they must not replace a verified tip, and pushed, bundled for the
deliver job, or kept on a local branch.
"""

from __future__ import annotations

import logging

from crashfix.config import FixSettings
from crashfix.fixer import attempts, bundle
from crashfix.fixer.agent.budget import Budget
from crashfix.fixer.agent.pricing import cost
from crashfix.fixer.agent.session import FixSession
from crashfix.fixer.channel import IssueChannel
from crashfix.fixer.checkout.gitops import Git, GitError, blob_hash
from crashfix.fixer.checkout.integrity import Listing, check_commit
from crashfix.fixer.checkout.workspace import ChangedBehindTheModel, Workspace
from crashfix.fixer.deliver import Delivery, commit_message, deliver
from crashfix.fixer.job import FixJob
from crashfix.fixer.models import FixOutcome, TokenUse
from crashfix.fixer.report import Progress
from crashfix.fixer.timing import time_split
from crashfix.fixer.verification import Verification

log = logging.getLogger(__name__)


class Sealing:
    """Account, seal, route, push or bundle: the state it reads is set up by `run._Run`."""

    job: FixJob
    settings: FixSettings
    outcome: FixOutcome
    progress: Progress
    channel: IssueChannel | None
    git: Git
    workspace: Workspace
    budget: Budget | None
    session: FixSession | None
    checks: Verification
    base_branch: str | None
    base_listing: Listing  # the base commit's files, listed before any build ran
    remote_tip: str | None
    tip_replaceable: bool
    returns_to: str | None
    hashes: dict[str, str]
    git_tainted: bool
    model_seconds: float
    started: float

    def _deliver(self) -> None:
        self._account()
        self._seal()
        if self.job.bundle_out is not None:
            return  # the deliver job writes to GitHub; `_finish` leaves it the bundle
        job = self.job
        deliver(Delivery(repo=job.repo, settings=self.settings, outcome=self.outcome, channel=self.channel,
                         progress=self.progress, report=self.report, push=self._push, base_branch=self.base_branch,
                         dry_run=job.dry_run))

    def _seal(self) -> None:
        """Commit exactly what the model wrote onto the base commit; checked against those bytes."""
        outcome = self.outcome
        if not outcome.changed_files or outcome.base_commit is None or self.git_tainted:
            return
        verified = outcome.status in ("fix-proposed", "local")
        try:
            self._route(verified)
            contents = self.git.line_ends(outcome.base_commit, self.workspace.verified_contents())
            written = {path: blob_hash(data) for path, data in contents.items()}
            outcome.commit = self.git.commit_contents(
                outcome.base_commit, contents, commit_message(outcome, verified), branch=outcome.branch,
                check=lambda commit: check_commit(self.git, commit, self.base_listing, written))
            outcome.diff_stats = self.git.diff_stats(outcome.base_commit, outcome.commit).describe()
            outcome.diff = self.git.diff(outcome.base_commit, outcome.commit)
        except (ChangedBehindTheModel, GitError) as error:
            outcome.status = "needs-human" if verified else outcome.status
            outcome.verification = "not-verified"
            outcome.reason = f"nothing was committed: {error.one_line()}"
            outcome.commit = None
            log.warning("%s", outcome.reason)
            return
        self.hashes = written

    def _route(self, verified: bool) -> None:
        """An unverified attempt never replaces a verified tip of the remote branch: it gets a branch of its own
        (`attempts`; the deliver job of the split workflow decides the same for the fix job's result)."""
        job = self.job
        if verified or self.tip_replaceable or job.repo is None or job.bundle_out is not None or job.dry_run:
            return
        attempts.to_attempt_branch(self.git, job.remote, job.token, self.outcome)
        self.remote_tip = ""  # a new branch: the push is refused if someone took the name meanwhile

    def _return_checkout(self) -> None:
        """--local: back to the branch or commit the run started on (after a fix, a failure or Ctrl+C)."""
        if self.returns_to is not None and self.git_tainted:
            log.warning("the checkout stays as the build left it: its .git/config was changed (see `git config "
                        "--local --list`); restore it before running git there")
        elif self.returns_to is not None:
            attempts.leave(self.git, self.returns_to, self.outcome)

    def _push(self) -> None:
        outcome = self.outcome
        assert outcome.branch is not None and outcome.commit is not None
        self.git.push(self.job.remote, outcome.branch, self.job.token, outcome.commit, expect=self.remote_tip)

    def _write_bundle(self) -> None:
        job, outcome = self.job, self.outcome
        assert job.bundle_out is not None and job.repo is not None and job.issue_number is not None
        patch = tree = None
        if outcome.commit and outcome.base_commit:
            patch = self.git.diff(outcome.base_commit, outcome.commit, limit=None)
            tree = self.git.run("rev-parse", f"{outcome.commit}^{{tree}}").strip()
        record = bundle.Bundle(repository=job.repo.full_name, issue=job.issue_number, branch=outcome.branch,
                               base_commit=outcome.base_commit if patch else None, tree=tree,
                               files=self.hashes if patch else {}, outcome=outcome,
                               progress=self.progress.states)  # type: ignore[arg-type]  # validated
        bundle.write(job.bundle_out, record, patch)
        if outcome.status == "fix-proposed":
            outcome.reason = f"a verified fix ({outcome.diff_stats}) is in the result bundle for the deliver job"

    def _account(self) -> None:
        outcome, budget = self.outcome, self.budget
        if self.session is not None:
            outcome.tool_calls = dict(self.session.tool_counts)
        if budget is not None:
            use = budget.usage
            spent = cost(use, budget.price)
            outcome.usage = TokenUse(input_tokens=use.input_tokens, output_tokens=use.output_tokens,
                                     cache_write_tokens=use.cache_write_tokens,
                                     cache_read_tokens=use.cache_read_tokens, turns=budget.turns,
                                     cost_usd=None if spent is None else spent + budget.reserved_usd)
        else:  # stopped before the first model call: nothing was spent, which is known, not "unknown"
            outcome.usage = TokenUse(cost_usd=0.0)
        outcome.changed_files = self.workspace.changed_paths()
        outcome.seconds = self.job.clock() - self.started
        if outcome.status not in ("fix-proposed", "local"):
            outcome.verification = "not-verified"  # whatever a round showed, nothing verified is delivered
        elif outcome.verification is None:
            outcome.verification = outcome.level
        baseline = self.checks.baseline
        outcome.time_split = time_split(outcome.rounds, self.model_seconds,
                                        baseline=baseline.result if baseline and not baseline.cached else None,
                                        regression_seconds=outcome.regression.seconds if outcome.regression else 0.0)

    def report(self, headline: str, footer: str = "", final: bool = False) -> None:
        if self.channel is not None:
            self.channel.report(self.progress, headline, self.outcome if final else None, footer)
