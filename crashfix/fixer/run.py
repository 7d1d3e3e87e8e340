"""`crashfix fix`: from a crash issue (or a crash file) to a built, tested draft PR, or a reason why not.

The phases are gate → locate → analyse (model) → build & test (repair rounds) → deliver.
Each phase reports to the sticky issue comment. Whatever stops the run — a budget, the
model, the build, git — ends in the same place: the issue says what was tried, why it
stopped and how to retry, and the label `crashfix:needs-human` is set.

The change is sealed once the rounds end (`sealing`): a commit of exactly the bytes the model
wrote on top of the base commit recorded before anything ran, checked against that commit's
file listing taken before any build, and no build may change git's settings (`integrity`). With
`bundle_out` (the fix job of the split workflow, holding a read-only token) nothing is
written to GitHub: the result, that commit's patch and hashes go into a result bundle, and
the deliver job does the rest (`deliver_job`).
"""

from __future__ import annotations

import contextlib
import logging

from crashfix.analysis.analyze import analyze_path, analyze_text, rules_for
from crashfix.analysis.models import CrashReport
from crashfix.errors import CrashfixError, ParseError
from crashfix.fixer import attempts
from crashfix.fixer.agent.budget import Budget
from crashfix.fixer.agent.session import FixSession
from crashfix.fixer.agent.toolservers import ToolServers, start_tool_servers
from crashfix.fixer.channel import IssueChannel
from crashfix.fixer.checkout.gitops import CheckoutNotReady, Git
from crashfix.fixer.checkout.integrity import GitChangedByTheBuild, Listing, settings_kept, tree_listing
from crashfix.fixer.checkout.workspace import Workspace
from crashfix.fixer.cost_cap import cap_reason, remaining_budget
from crashfix.fixer.gate import REFUSED_MARKER, decide, refusal_comment
from crashfix.fixer.history import History, commit_history
from crashfix.fixer.job import FixJob
from crashfix.fixer.models import FixOutcome, FixProposal, VerifyResult
from crashfix.fixer.prompt import dump_note, reanalyze_text, repair_message, task_message
from crashfix.fixer.regression import RegressionRunner
from crashfix.fixer.report import Progress
from crashfix.fixer.sealing import Sealing
from crashfix.fixer.verification import Verification
from crashfix.fixer.verify.build_folder import WarmBuild, resolve_root, warm_build
from crashfix.fixer.verify.steps import require_commands, run_round
from crashfix.issues.body import human_text, title_for
from crashfix.issues.record import parse_record
from crashfix.locate.context import locate
from crashfix.locate.models import CodeContext

log = logging.getLogger(__name__)


class NotACrashIssue(CrashfixError):
    """The issue carries no crash record and no crash text crashfix can read."""


def run_fix(job: FixJob) -> FixOutcome:
    """Run the whole pipeline; CrashfixErrors become a reported outcome, never a traceback."""
    return _Run(job).run()


class _Run(Sealing):
    def __init__(self, job: FixJob) -> None:
        self.job = job
        self.settings = job.settings
        self.started = job.clock()
        self.progress = Progress(run_url=job.run_url, listener=job.on_progress)
        self.channel: IssueChannel | None = None
        self.git = Git(job.checkout, job.environ, secrets=job.secrets)
        self.workspace = Workspace(job.checkout)
        self.budget: Budget | None = None
        self.session: FixSession | None = None
        self.servers: ToolServers | None = None
        self.dump_path: str | None = None  # from the issue record, for a dump-inspecting tool server
        self.base_branch: str | None = None
        self.remote_tip: str | None = None  # the branch's remote tip when the run started ("" if absent)
        self.hashes: dict[str, str] = {}  # the sealed commit's files: path -> blob hash
        self.spend_limit: float | None = None  # what is left of the per-issue cost cap
        self.history = History()
        self.model_seconds = 0.0  # in the model's turns (its tool calls included), for the time split
        self.returns_to: str | None = None  # --local: the branch or commit the checkout goes back to at the end
        self.tip_replaceable = True  # the remote branch's tip is crashfix's unverified attempt (or absent)
        self.base_listing: Listing = {}
        self.git_tainted = False  # a build changed git's settings: nothing more is committed, checked out or pushed
        self.outcome = FixOutcome(status="needs-human", issue_number=job.issue_number,
                                  repository=job.repo.full_name if job.repo else None,
                                  trigger=job.trigger.describe())
        self.warm = WarmBuild(folder=None)
        self._held = contextlib.ExitStack()
        self.checks = Verification(job.checkout, self.settings, job.environ, self.outcome,
                                   secret_values=job.secrets, clock=job.clock, on_step=job.on_step)

    # -- the pipeline ----------------------------------------------------------------------------

    def run(self) -> FixOutcome:
        """Errors before the gate passes (unreadable issue or report) propagate: nothing to report them on.

        So do a local run's setup errors (a dirty checkout, no build commands) before any model call.
        """
        try:
            return self._run()
        except KeyboardInterrupt:
            self._keep_interrupted()
            raise
        finally:
            self._return_checkout()

    def _keep_interrupted(self) -> None:
        """Ctrl+C in a local run: the model's edits so far go to the attempt branch (unverified), so the checkout
        can return clean; the branch keeps them."""
        if self.returns_to is None or self.outcome.commit is not None:
            return
        self.outcome.status, self.outcome.reason = "needs-human", "interrupted"
        self.outcome.changed_files = self.workspace.changed_paths()
        try:
            self._seal()
        except CrashfixError as error:  # the edits stay in the checkout; `_return_checkout` says so
            log.warning("could not keep the interrupted attempt: %s", error.one_line())
        if self.outcome.commit:
            log.warning("interrupted: the edits so far are on %s (not verified)", self.outcome.branch)

    def _run(self) -> FixOutcome:
        self._open_issue()
        if not self._gate():
            return self._finish()
        try:
            report, human = self._load_crash()
        except NotACrashIssue as error:
            self.outcome.status, self.outcome.reason = "skipped", error.one_line()
            self._say_skipped()
            return self._finish()
        if self._over_cost_cap():
            self._deliver()
            return self._finish()
        try:
            context = self._prepare(report)
            proposal = self._analyse(report, human, context)
            self._verify_loop(proposal)
        except CrashfixError as error:  # budgets, the model, git, the build setup: reported on the issue
            self.git_tainted = isinstance(error, GitChangedByTheBuild)  # then no git command runs any more
            if self.job.local and self.session is None:
                raise  # nothing spent, no issue to tell: the command line says it, with its exit code
            self._stopped(error)
        finally:
            self._stop_tool_servers()
            self._held.close()  # the build folder's lock
        self._deliver()
        return self._finish()

    def _open_issue(self) -> None:
        job = self.job
        if job.repo is None:
            return
        assert job.issue_number is not None
        self.issue = job.repo.issue(job.issue_number)
        read_only = job.dry_run or job.bundle_out is not None  # the fix job of the split workflow writes nothing
        self.channel = IssueChannel(job.repo, self.issue.number, dry_run=read_only, viewer=job.viewer,
                                    labels=self.issue.labels, clock=job.clock)
        self.outcome.crash_title = self.issue.title

    def _load_crash(self) -> tuple[CrashReport, str]:
        job = self.job
        rules = rules_for(job.analysis)
        if job.repo is None:
            assert job.report_path is not None
            report = analyze_path(job.report_path, rules=rules)
            self.outcome.crash_title = title_for(report)
            self.outcome.signature = report.signature.id if report.signature else None
            return report, ""
        issue = self.issue
        record = parse_record(issue.body)
        if record is not None:
            self.outcome.signature = record.signature.id
            self.dump_path = record.dump_path
            return record.report, human_text(issue.body)
        try:
            report = analyze_text(issue.body, rules=rules)
        except ParseError:
            raise NotACrashIssue(f"issue #{issue.number} has no crashfix record and no crash output crashfix "
                                 "can read", "paste a crash log, CDB output or backtrace into the issue") from None
        self.outcome.signature = report.signature.id if report.signature else None
        return report, ""

    def _gate(self) -> bool:
        job = self.job
        if job.repo is None:
            self.progress.set("Gate", "skipped", "local run")
            return True
        decision = decide(job.repo, self.issue, job.trigger, self.settings, token_user=job.viewer)
        if not decision.allowed:
            self.outcome.status, self.outcome.reason = "refused", f"not started: {decision.why}"
            assert self.channel is not None
            self.channel.comment_once(REFUSED_MARKER, refusal_comment(decision, self.settings))
            return False
        self.progress.set("Gate", "done", decision.why)
        self.report("crashfix is working on this crash")
        return True

    def _prepare(self, report: CrashReport) -> CodeContext:
        job = self.job
        require_commands(self.settings)  # before any money is spent on the model
        if self.settings.build_dir is not None:
            resolve_root(self.settings.build_dir, job.checkout, job.environ)  # a bad build_dir: before the model
        self.git.ensure_repository()
        leaks = self.git.persisted_credentials()
        if leaks:
            raise CheckoutNotReady(f"the checkout's .git/config holds credentials ({', '.join(leaks)}) that a build "
                                   "could read", "check out with `persist-credentials: false`; crashfix pushes "
                                   "with the token itself")
        dirty = self.git.dirty_paths()
        if dirty:
            raise CheckoutNotReady(f"the checkout has uncommitted changes ({', '.join(dirty[:5])})",
                                   "commit or stash them first; crashfix commits only its own edits")
        if job.repo is None:
            sig = (self.outcome.signature or "crash")[:12]
            self.returns_to = attempts.position(self.git)
            self.outcome.branch = attempts.local_branch(self.git, f"crashfix/local-{sig}")  # never reset one
            self.outcome.base_commit = self.git.start_local_branch(self.outcome.branch)
        else:
            self.outcome.branch = f"{self.settings.branch_prefix}{job.issue_number}"
            base = self.settings.base_branch or job.repo.default_branch
            self.base_branch = base
            self.outcome.base_commit = self.git.start_branch(self.outcome.branch, remote=job.remote, base=base,
                                                             token=job.token)
            self.remote_tip = self.outcome.base_commit if self.git.continued else ""
            self.tip_replaceable = not self.git.continued or attempts.replaceable(attempts.tip_message(self.git))
        self.base_listing = tree_listing(self.git, self.outcome.base_commit)  # before any build can touch .git
        self._hold_build_folder()
        if self.git.continued and self.tip_replaceable:
            # The tip is crashfix's own unverified attempt: what fails there may be that attempt's doing, so
            # nothing counts as failing "before any edit" (no baseline) and every failure drives the repair.
            self.progress.set("Build & test", "pending", "continuing an unverified attempt: every failure counts")
        else:
            self._baseline()
        self.history = commit_history(parse_record(self.issue.body) if job.repo is not None else None, job.repo,
                                      self.git, self.settings.context_tokens)  # suspect commits, a failed fix
        context = locate(report, job.checkout, path_mappings=self.settings.path_mappings,
                         context_tokens=self.settings.context_tokens - self.history.tokens,
                         instructions_file=self.settings.instructions_file)
        self.outcome.located = context.paths()
        found = sum(1 for f in context.frames if f.path)
        history = f"; the diffs of {len(self.history.commits)} earlier commit(s)" if self.history.commits else ""
        self.progress.set("Locate", "done", f"{len(context.snippets)} snippet(s) from {len(context.paths())} "
                                            f"file(s); {found} frame(s) mapped{history}")
        self.report("crashfix is working on this crash")
        return context

    def _baseline(self) -> None:
        """Build and test the base commit before the model's first edit (or reuse that result)."""
        assert self.outcome.base_commit is not None
        self.progress.set("Build & test", "running", "building and testing the base commit first")
        self.report("crashfix is working on this crash")
        with settings_kept(self.git, "building the base commit"):
            line = self.checks.start(self.outcome.base_commit, self.started + self.settings.budget.max_wall_seconds)
        self.progress.set("Build & test", "pending", line)

    def _over_cost_cap(self) -> bool:
        """Past `max_cost_per_issue_usd` over all attempts (the sticky comment's record): no model call at all."""
        if self.channel is None:
            return False
        previous = self.channel.previous_state()
        why = cap_reason(previous, self.settings.budget)
        if why is None:
            self.spend_limit = remaining_budget(previous, self.settings.budget)
            return False
        self.outcome.reason = why
        self.outcome.retry_hint = ("Raise `max_cost_per_issue_usd` under `[fix.budget]` in `.github/crashfix.toml` "
                                   "and add the label `reanalyze`, or fix it by hand.")
        if self.job.trigger.kind == "labeled":
            self.channel.labels(remove=(self.settings.reanalyze_label,))
        self.progress.set("Analyse", "skipped", "per-issue cost cap reached: no model call")
        log.warning("not started: %s", why)
        return True

    def _analyse(self, report: CrashReport, human: str, context: CodeContext) -> FixProposal:
        job = self.job
        limits = self.settings.budget
        if self.spend_limit is not None:  # what is left of the per-issue cap bounds this run too
            run_cap = self.spend_limit if not limits.max_cost_usd else min(limits.max_cost_usd, self.spend_limit)
            limits = limits.model_copy(update={"max_cost_usd": max(run_cap, 1e-9)})
        self.budget = Budget(limits, self.settings.model, job.prices.price(self.settings.model),
                             clock=job.clock, started=self.started)
        self.servers = start_tool_servers(self.settings.mcp, self.workspace, self.git, job.environ, job.secrets)
        self.session = FixSession(job.model(), self.workspace, self.budget, self.settings.model,
                                  on_event=self._tool_event, servers=self.servers)
        extra = (self._reanalysis() + (dump_note(self.dump_path) if self.servers is not None else "")
                 + self.history.text + self.checks.task_extra())
        task = task_message(issue_number=job.issue_number,
                                       repository=job.repo.full_name if job.repo else str(job.checkout.name),
                                       report=report, context=context, human_text=human, extra=extra)
        self.progress.set("Analyse", "running", f"asking {self.settings.model}")
        self.report("crashfix is working on this crash")
        proposal = self._propose(task)
        self._took(proposal)
        return proposal

    def _propose(self, message: str) -> FixProposal:
        assert self.session is not None
        started = self.job.clock()
        try:
            return self.session.propose(message)
        finally:
            self.model_seconds += self.job.clock() - started

    def _reanalysis(self) -> str:
        """For a `reanalyze` run: remove the label; hand over the last outcome and maintainers' reviews."""
        job, channel = self.job, self.channel
        if job.repo is None or channel is None or job.trigger.kind != "labeled":
            return ""
        channel.labels(remove=(self.settings.reanalyze_label,))
        pull = job.repo.find_pull(self.outcome.branch or "")
        notes = job.repo.review_notes(pull.number) if pull else []
        roles: dict[str, str] = {}
        trusted = [n for n in notes if n.author and roles.setdefault(n.author, job.repo.permission(n.author))
                   in ("admin", "maintain", "write")]
        return reanalyze_text(channel.previous_state(), trusted)

    def _took(self, proposal: FixProposal) -> None:
        self.outcome.proposal = proposal
        detail = f"{proposal.status}: {proposal.root_cause[:140]}"
        self.progress.set("Analyse", "done" if proposal.status == "fixed" else "failed", detail)

    def _hold_build_folder(self) -> None:
        """The run's build folder (`[fix] build_dir`, locked) and compiler cache, held from the baseline build
        to the last round; released when the run ends (`run`)."""
        repository = self.job.repo.full_name if self.job.repo else self.git.run(
            "remote", "get-url", "origin", check=False).strip()
        self.warm = self._held.enter_context(warm_build(self.settings, self.job.checkout, self.job.environ,
                                                        repository=repository or self.job.checkout.name,
                                                        say=self.job.on_event))
        self.outcome.build_folder = self.warm.use
        self.checks.warm = self.warm

    def _verify_loop(self, proposal: FixProposal) -> None:
        self._rounds(proposal, self.warm)

    def _rounds(self, proposal: FixProposal, warm: WarmBuild) -> None:
        rounds = self.settings.repair_rounds
        for number in range(1, rounds + 1):
            if proposal.status != "fixed":
                self.outcome.reason = "the model found no sound fix"
                self.outcome.retry_hint = ("The analysis above may still help. Add the label `reanalyze` after "
                                           "adding notes to the issue, or fix it by hand.")
                return
            self.progress.set("Build & test", "running", f"round {number} of {rounds}")
            self.report("crashfix is working on this crash")
            assert self.budget is not None and self.session is not None
            with settings_kept(self.git, f"the build of round {number}"):
                result = run_round(self.job.checkout, self.settings, self.job.environ, number,
                                          secret_values=self.job.secrets, deadline=self.budget.deadline,
                                          clock=self.job.clock, judge=self.checks.judge, warm=warm,
                                          on_step=self.job.on_step)
            self.outcome.rounds.append(result)
            verdict, again = "repair", ""
            if result.ok:
                runner = RegressionRunner(self.workspace, self.settings, self.job.environ,
                                          secret_values=self.job.secrets, deadline=self.budget.deadline,
                                          clock=self.job.clock, warm=warm)
                with settings_kept(self.git, "the regression test's builds"):
                    verdict, again = self.checks.after_pass(result, proposal, runner, rounds - number)
            if verdict == "accept" or (verdict == "stop" and result.ok):
                self.outcome.status = "local" if self.job.local else "fix-proposed"
                self.checks.conclude()
                self.progress.set("Build & test", "done" if self.outcome.verified else "failed",
                                  self.checks.done_detail(number))
                return
            if self.checks.stuck_on_base_build(result):
                self.outcome.reason = ("the base commit does not build either, and the change adds no new build "
                                       "error: it could not be built or tested")
                self.progress.set("Build & test", "failed", self.outcome.reason)
                return
            self.progress.set("Build & test", "running", f"round {number}: {result.failed_phase or 'regression test'} "
                                                         "failed")
            if number == rounds:
                break
            proposal = self._propose(again or repair_message(result, rounds - number))
            self._took(proposal)
        self.outcome.reason = f"build or tests still failed after {rounds} round(s)"
        self.progress.set("Build & test", "failed", self.outcome.reason)

    def _stop_tool_servers(self) -> None:
        """Whatever ended the model loop (an answer, a budget, an error, Ctrl+C): the servers stop here."""
        if self.servers is not None:
            self.outcome.tool_servers = self.servers.use()
            self.servers.close()
            self.servers = None

    def _stopped(self, error: CrashfixError) -> None:
        self.outcome.reason = error.one_line()
        for phase, (state, _) in self.progress.states.items():
            if state in ("running", "pending"):
                self.progress.set(phase, "failed", error.message[:200])
                break
        log.warning("fix stopped: %s", error.one_line())

    def _tool_event(self, message: str) -> None:
        """A model tool call: shown in the Analyse row (edits of the comment are rate-limited)."""
        self.job.on_event(message)
        if self.progress.states["Analyse"][0] == "running":
            self.progress.set("Analyse", "running", f"{self.settings.model}: {message[:80]}")
            self.report("crashfix is working on this crash")

    def _say_skipped(self) -> None:
        for phase, (state, _) in list(self.progress.states.items()):
            if state == "pending":
                self.progress.set(phase, "skipped", "not reached")
        self.report("crashfix found no crash to fix", footer=f"**Skipped:** {self.outcome.reason}.", final=True)

    def _finish(self) -> FixOutcome:
        self.outcome.seconds = self.job.clock() - self.started
        if self.job.bundle_out is not None:
            self._write_bundle()  # every outcome travels to the deliver job, refusals and failures too
        return self.outcome

    @property
    def last_round(self) -> VerifyResult | None:
        return self.outcome.rounds[-1] if self.outcome.rounds else None

