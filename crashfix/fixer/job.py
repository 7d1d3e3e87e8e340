"""`FixJob`, everything one fix run needs, built from command-line choices, the repository's config and the environment.

The one place the fixer reads the environment (the CLI passes `os.environ` in): tokens,
API base URLs, the Actions event that triggered the run, the run's URL. Also writes the
Actions job summary and step outputs at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from crashfix.config import AnalysisSettings, Config, FixSettings, NotifySettings, load_config, repo_config_path
from crashfix.errors import UsageError
from crashfix.fixer.agent.pricing import PriceList, load_prices
from crashfix.fixer.agent.session import ModelCaller
from crashfix.fixer.gate import Trigger, trigger_from_actions
from crashfix.fixer.models import FixOutcome
from crashfix.fixer.report import job_summary

if TYPE_CHECKING:
    from crashfix.github.api import RepoAPI


@dataclass
class FixJob:
    """Everything one run needs, built by the CLI from flags, config and the environment."""

    checkout: Path
    settings: FixSettings
    analysis: AnalysisSettings
    environ: Mapping[str, str]
    model: Callable[[], ModelCaller]
    prices: PriceList
    repo: RepoAPI | None = None
    issue_number: int | None = None
    report_path: Path | None = None
    dry_run: bool = False
    trigger: Trigger = field(default_factory=lambda: Trigger("manual"))
    token: str | None = None
    secrets: tuple[str, ...] = ()
    remote: str = "origin"
    run_url: str | None = None
    viewer: str | None = None
    clock: Callable[[], float] = time.monotonic
    on_event: Callable[[str], None] = lambda message: None
    on_progress: Callable[[str, str, str], None] | None = None  # (phase, state, detail) as each phase changes
    on_step: Callable[[str, list[str]], None] | None = None  # (phase, command) as a build or test command starts
    bundle_out: Path | None = None  # the fix job of the split workflow: write the result here, nothing to GitHub
    notify: NotifySettings = field(default_factory=NotifySettings)  # read with the rest, before anything ran

    @property
    def local(self) -> bool:
        return self.repo is None


@dataclass(frozen=True)
class FixOptions:
    """What the user asked for on the command line."""

    checkout: Path
    issue: int | None = None
    repo: str | None = None
    report: Path | None = None
    local: bool = False
    dry_run: bool = False
    config: Path | None = None
    model: str | None = None
    max_cost_usd: float | None = None
    remote: str = "origin"
    bundle_out: Path | None = None


def secret_values(environ: Mapping[str, str], keep: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Values that must never appear in a build's environment, a log, a comment or a PR."""
    from crashfix.scrub import secret_values_in

    return tuple(sorted(set(secret_values_in(environ, keep))))


def load_fix_config(options: FixOptions) -> Config:
    config = load_config(repo_config_path(options.checkout, options.config))
    updates: dict[str, object] = {}
    if options.model:
        updates["model"] = options.model
    if options.max_cost_usd is not None:
        updates["budget"] = config.fix.budget.model_copy(update={"max_cost_usd": options.max_cost_usd})
    fix = config.fix.model_copy(update=updates)
    return config.model_copy(update={"fix": type(fix).model_validate(fix.model_dump())})


def build_job(options: FixOptions, environ: Mapping[str, str]) -> FixJob:
    from crashfix.fixer.checkout.process_guard import protect_secrets

    protect_secrets()  # before anything from the checkout runs: its build must not read our environment
    if options.local and options.report is None:
        raise UsageError("--local needs --report FILE", "e.g. crashfix fix --local --report crash.txt")
    if not options.local and options.issue is None:
        raise UsageError("give --issue N (with --repo), or --local --report FILE")
    if not options.checkout.is_dir():
        raise UsageError(f"{options.checkout} is not a folder", "pass --checkout DIR of a clone of the repository")
    if options.bundle_out is not None and (options.local or options.dry_run):
        raise UsageError("--bundle-out is for the fix job of the split workflow, not with --local or --dry-run",
                         "drop --bundle-out to fix locally, or --local/--dry-run to write a bundle")
    config = load_fix_config(options)
    api_key = environ.get("ANTHROPIC_API_KEY", "")
    base_url = environ.get("ANTHROPIC_BASE_URL") or None

    def model():  # type: ignore[no-untyped-def]
        from crashfix.fixer.agent.claude import ClaudeClient  # the SDK loads only when a fix really runs

        return ClaudeClient(api_key, base_url)

    job = FixJob(checkout=options.checkout.resolve(), settings=config.fix, analysis=config.analysis,
                 environ=dict(environ), model=model, prices=load_prices(), report_path=options.report,
                 dry_run=options.dry_run, secrets=secret_values(environ, config.fix.keep_env), remote=options.remote,
                 token=environ.get("GITHUB_TOKEN") or None, notify=config.notify,
                 bundle_out=options.bundle_out.resolve() if options.bundle_out else None)
    if not api_key:
        raise UsageError("no Anthropic API key", "set ANTHROPIC_API_KEY (a repository secret in Actions)")
    if options.local:
        return job
    _connect_github(job, options, environ)
    return job


def _connect_github(job: FixJob, options: FixOptions, environ: Mapping[str, str]) -> None:
    from crashfix.github.connect import client_from, repository_name  # PyGithub loads only for GitHub runs

    repo_name = repository_name(options.repo, environ)
    if not repo_name:
        raise UsageError("no repository", "pass --repo OWNER/NAME (Actions sets GITHUB_REPOSITORY)")
    client = client_from(environ, write_interval=1.0)
    job.repo = client.repository(repo_name)
    if not options.dry_run and options.bundle_out is None:
        # One-job runs push at the end: check write access before a comment, a model call or a build. The fix
        # job of the split workflow holds a read-only token by design; the deliver job checks its own.
        job.repo.require_push("a fix pushes a branch and opens a pull request")
    job.issue_number = options.issue
    job.viewer = client.login_or_none()
    job.trigger = trigger_from_actions(environ, job.viewer)
    from crashfix.actions.workflow import run_url

    job.run_url = run_url(environ)


def publish(outcome: FixOutcome, environ: Mapping[str, str], handed_over: bool = False) -> None:
    """Actions: the job summary and the step outputs `status`, `pr-url`, `cost-usd`, `reason`."""
    from crashfix.actions import workflow

    workflow.summary(environ, job_summary(outcome, handed_over))
    cost = "" if outcome.usage.cost_usd is None else f"{outcome.usage.cost_usd:.4f}"
    workflow.set_outputs(environ, {"status": outcome.status, "pr-url": outcome.pull_url or "", "cost-usd": cost,
                                      "reason": outcome.reason})
