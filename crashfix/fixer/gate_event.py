"""`crashfix gate`: should the fix job start for this Actions event? Decided on a GitHub-hosted runner.

The fix job runs on a self-hosted machine, costs money and pushes a branch, so the
workflow's first job asks the same question the fixer asks (`fix_gate.decide`: the
uploader's account, or someone with write permission, read through the API) before a
self-hosted runner is ever taken. It also drops the events the workflow cannot filter by
itself: labels other than `reanalyze` (GitHub sends `labeled` for every label an issue is
opened with) and new issues that are not crash issues. It never writes to GitHub.
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


def run_gate(number: int, repo_name: str | None, config: Config, environ: Mapping[str, str]) -> GateResult:
    """From the Actions environment: decide, then write the step outputs and the job summary."""
    trigger = trigger_from_actions(environ)
    repo = open_repository(repo_name, environ)
    result = gate(repo, number, trigger, config)
    workflow.set_outputs(environ, {"fix": "true" if result.run else "false", "reason": result.reason})
    verdict = "fix starts" if result.run else "no fix"
    workflow.summary(environ, f"## crashfix gate: {verdict} for #{number}\n\n{trigger.describe()}: "
                                 f"{result.reason}.\n")
    return result
