"""`crashfix gate`: should the fix job start for this Actions event? Decided on a GitHub-hosted runner.

The fix job runs on a self-hosted machine, costs money and pushes a branch, so the
workflow's first job asks the same question the fixer asks (`fix_gate.decide`: the
uploader's account, or someone with write permission, read through the API) before a
self-hosted runner is ever taken. It also drops the events the workflow cannot filter by
itself: labels other than `reanalyze` (GitHub sends `labeled` for every label an issue is
opened with) and new issues that are not crash issues. In the split workflow it also says on
the issue that a fix started (`announce`: the sticky comment, "working — see the run", with the
last attempt's record kept) and takes the `reanalyze` label off: the fix job may not write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashfix.actions import workflow
from crashfix.config import Config
from crashfix.fixer.gate import Trigger, decide, trigger_from_actions
from crashfix.github.connect import open_repository

if TYPE_CHECKING:
    from crashfix.github.api import RepoAPI


@dataclass(frozen=True)
class GateResult:
    run: bool
    reason: str


def gate(repo: RepoAPI, number: int, trigger: Trigger, config: Config) -> GateResult:
    """Whether to start a fix for issue `number` after `trigger`, and why."""
    settings = config.fix
    reanalyze = settings.reanalyze_label
    if trigger.kind == "labeled" and (trigger.label or "").casefold() != reanalyze.casefold():
        return GateResult(False, f"the label `{trigger.label}` does not start a fix (only `{reanalyze}` does)")
    issue = repo.issue(number)
    if issue.is_pull_request:
        return GateResult(False, f"#{number} is a pull request")
    crash_labels = {label.casefold() for label in config.uploader.labels}
    if trigger.kind in ("opened", "reopened") and not crash_labels & {label.casefold() for label in issue.labels}:
        wanted = ", ".join(f"`{label}`" for label in config.uploader.labels)
        return GateResult(False, f"#{number} is not a crash issue (no {wanted} label)")
    decision = decide(repo, issue, trigger, settings)
    return GateResult(decision.allowed, decision.why)


def announce_start(repo: RepoAPI, number: int, trigger: Trigger, result: GateResult, config: Config,
                   environ: Mapping[str, str]) -> None:
    """A fix starts: the sticky comment says so and links the run; a `reanalyze` label is taken off."""
    from crashfix.fixer.channel import IssueChannel
    from crashfix.fixer.report import Progress

    issue = repo.issue(number)
    channel = IssueChannel(repo, number, dry_run=False, viewer=None, labels=issue.labels)
    progress = Progress(run_url=workflow.run_url(environ))
    progress.set("Gate", "done", result.reason)
    channel.report(progress, "crashfix is working on this crash — see the run")
    if trigger.kind == "labeled":
        channel.labels(remove=(config.fix.reanalyze_label,))


def run_gate(number: int, repo_name: str | None, config: Config, environ: Mapping[str, str],
             announce: bool = False) -> GateResult:
    """From the Actions environment: decide (and `announce` a start), then write the step outputs and summary."""
    trigger = trigger_from_actions(environ)
    repo = open_repository(repo_name, environ)
    result = gate(repo, number, trigger, config)
    if announce and result.run:
        announce_start(repo, number, trigger, result, config, environ)
    workflow.set_outputs(environ, {"fix": "true" if result.run else "false", "reason": result.reason})
    verdict = "fix starts" if result.run else "no fix"
    workflow.summary(environ, f"## crashfix gate: {verdict} for #{number}\n\n{trigger.describe()}: "
                                 f"{result.reason}.\n")
    return result
