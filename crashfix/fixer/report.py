"""What a fix run tells people: the sticky issue comment, the PR body, the job summary, the terminal, the chat.

All are rendered from the same `FixOutcome`. Text the model wrote or a crash carried is
untrusted on the way out too: it passes `untrusted.inert_markdown` (no hidden comments, no
mentions, no closing keywords or issue references, no images or links, no HTML; capped)
wherever it lands on GitHub, and `inert_plain` in a title. The only closing keyword crashfix
writes is its own `Fixes #N`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from crashfix.config import NotifySettings
from crashfix.fixer.models import FixOutcome, StepResult, VerifyResult
from crashfix.fixer.report_tools import tool_server_appendix, tool_server_state
from crashfix.fixer.report_verification import baseline_line, level_line, state_fields, verification_block
from crashfix.fixer.timing import build_folder_line, rounds_line, time_line
from crashfix.issues.progress import PROGRESS_MARKER, state_block
from crashfix.issues.record import now_iso
from crashfix.notify import NotifyEvent, notifier_from
from crashfix.untrusted import code_span, cut_at_line, inert_markdown, inert_plain

_ICONS = {"pending": "⏳", "running": "🔄", "done": "✅", "failed": "❌", "skipped": "➖"}
PHASES = ("Gate", "Locate", "Analyse", "Build & test", "Deliver")


def model_text(text: str | None, limit: int = 4000, *, one_line: bool = False) -> str:
    """Model or crash text made safe for a GitHub body (see `untrusted.inert_markdown`)."""
    return inert_markdown(text, limit, one_line=one_line)


@dataclass
class Progress:
    """The phases of one run, rendered as the sticky comment."""

    run_url: str | None = None
    states: dict[str, tuple[str, str]] = field(default_factory=lambda: {p: ("pending", "") for p in PHASES})
    listener: Callable[[str, str, str], None] | None = None  # e.g. the terminal's progress lines (`console`)

    def set(self, phase: str, state: str, detail: str = "") -> None:
        self.states[phase] = (state, detail)
        if self.listener is not None:
            self.listener(phase, state, detail)

    def render(self, headline: str, outcome: FixOutcome | None = None, footer: str = "",
               previous: dict[str, object] | None = None) -> str:
        rows = "\n".join(f"| {phase} | {_ICONS[state]} {_cell(model_text(detail, 300, one_line=True))} |"
                         for phase, (state, detail) in self.states.items())
        parts = [PROGRESS_MARKER, f"### {headline}", "", "| Phase | Status |", "|---|---|", rows, ""]
        if footer:
            parts += [footer, ""]
        if self.run_url:
            parts.append(f"[Workflow run]({self.run_url})")
        if outcome is not None:
            parts.append(render_state(outcome, previous))
        elif previous:
            parts.append(state_block(previous))  # the last attempt's record stays until this one's replaces it
        return "\n".join(parts).strip() + "\n"


def _cell(text: str) -> str:
    """One-line Markdown for a table cell: its pipes escaped (in code spans too, as GFM wants)."""
    return text.replace("|", "\\|")


def _number(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def render_state(outcome: FixOutcome, previous: dict[str, object] | None = None) -> str:
    """A hidden record of the last attempt, read back for a re-analysis and by `crashfix stats`.

    Totals over all attempts (`attempts`, `reanalyzed`, `total_cost_usd`) carry on from the
    previous run's record, so the one sticky comment keeps the whole history's cost.
    """
    proposal = outcome.proposal
    use = outcome.usage
    before = previous or {}
    earlier = int(_number(before.get("attempts"))) or (1 if previous else 0)
    earlier_cost = _number(before.get("total_cost_usd", before.get("cost_usd")))
    state = {"status": outcome.status, "reason": outcome.reason, "pull": outcome.pull_number,
             "root_cause": proposal.root_cause[:1000] if proposal else None,
             "fix_summary": proposal.fix_summary[:1000] if proposal else None,
             "verified": outcome.verified, "commit": outcome.commit, "rounds": len(outcome.rounds),
             "turns": use.turns, "input_tokens": use.input_tokens, "output_tokens": use.output_tokens,
             "cache_write_tokens": use.cache_write_tokens, "cache_read_tokens": use.cache_read_tokens,
             "cost_usd": use.cost_usd, "seconds": round(outcome.seconds, 1),
             "finished_at": now_iso(time.time()),
             "attempts": earlier + 1,
             "reanalyzed": int(_number(before.get("reanalyzed"))) + (outcome.trigger.startswith("label ")),
             "total_cost_usd": round(earlier_cost + (use.cost_usd or 0.0), 6)}
    return state_block({**state, **state_fields(outcome), **tool_server_state(outcome)})


def round_line(result: VerifyResult) -> str:
    steps = {phase: [s for s in result.steps if s.phase == phase] for phase in ("build", "test")}
    return (f"| {result.round} | {_step_cell(steps['build'])} | {_step_cell(steps['test'])} | "
            f"{sum(s.seconds for s in result.steps):.0f} s |")


def _step_cell(steps: list[StepResult]) -> str:
    if not steps:
        return "–"
    failed = next((s for s in steps if not s.passed), None)
    if failed is None:
        known = sum(len(s.preexisting) or 1 for s in steps if s.known_failure)
        return f"✅ passed ({known} pre-existing failure(s) only)" if known else "✅ passed"
    why = f"timed out after {failed.seconds:.0f} s" if failed.timed_out else f"exit {failed.returncode}"
    first = failed.diagnostics[0] if failed.diagnostics else None
    message = model_text(first.message, 120, one_line=True) if first else ""
    where = f": {code_span(f'{first.path}:{first.line}')} {message}" if first and first.path else (
        f": {message}" if first else "")
    return _cell(f"❌ {why}{where}")


def verification_table(outcome: FixOutcome) -> str:
    if not outcome.rounds:
        return "Not built: no change reached the build."
    return "\n".join(["| Round | Build | Tests | Time |", "|---|---|---|---|",
                      *(round_line(r) for r in outcome.rounds)])


def usage_line(outcome: FixOutcome) -> str:
    use = outcome.usage
    unknown = "cost unknown (no price for the model)" if use.turns else "cost unknown"  # e.g. no fix job record
    cost = f"${use.cost_usd:.4f}" if use.cost_usd is not None else unknown
    return (f"{use.turns} model calls · {use.input_tokens + use.cache_write_tokens:,} input tokens "
            f"(+{use.cache_read_tokens:,} read from cache) · {use.output_tokens:,} output tokens · {cost} · "
            f"{outcome.seconds:.0f} s")


def pr_title(outcome: FixOutcome) -> str:
    title = inert_plain(outcome.crash_title.removeprefix("Crash: ")) or f"crash #{outcome.issue_number}"
    return f"Fix crash: {title}"[:240]


def pr_body(outcome: FixOutcome, note: str = "") -> str:
    """The draft PR's body; `note` is crashfix's own (e.g. why the repository's CI has not run)."""
    proposal = outcome.proposal
    assert proposal is not None
    guard = ("\n> ⚠️ **Guard only:** this patch adds a check without removing why the state arises. "
             "Review whether the root cause needs more.\n" if proposal.guard_only else "")
    verified = level_line(outcome) if outcome.verified else "❌ not verified: see the rounds below"
    parts = [
        f"Fixes #{outcome.issue_number}", "",
        "> Draft opened by crashfix. Review it like any other change; nothing is merged without a human.",
        f"\n> ℹ️ {note}\n" if note else "",
        guard,
        "## Root cause", model_text(proposal.root_cause), "",
        "## Fix", model_text(proposal.fix_summary) or "_(no summary)_", "",
        f"**Verified:** {verified} · **Confidence:** {proposal.confidence} · **Risk:** {proposal.risk} · "
        f"**Guard only:** {'yes' if proposal.guard_only else 'no'}", "",
        "<details><summary>Explanation</summary>", "", model_text(proposal.explanation, 8000), "", "</details>", "",
        "## Verification", *verification_block(outcome, model_text), "", verification_table(outcome), "",
        "## Changes", f"{outcome.diff_stats or ''}: " + ", ".join(code_span(p) for p in outcome.changed_files), "",
        "## Crash", f"Signature {code_span(outcome.signature or '?')} — {model_text(outcome.crash_title, 300)}",
        f"Code shown up front: {', '.join(code_span(p) for p in outcome.located[:8]) or 'none'}", "",
        "## Cost", usage_line(outcome), "", time_text(outcome), "",
        tool_server_appendix(outcome, model_text),
        "_To retry with review feedback, add the label `reanalyze` to the issue; review comments from people "
        "with write access are given to the next attempt._",
        f"<!-- crashfix:pull issue={outcome.issue_number} signature={outcome.signature} -->",
    ]
    return cut_at_line("\n".join(parts), 60000)


def failure_text(outcome: FixOutcome) -> str:
    """What the issue is told when no verified fix came out: what was tried, why it stopped, how to retry."""
    lines = [f"**Stopped:** {model_text(outcome.reason, 1000)}"]
    if outcome.proposal is not None:
        lines.append(f"**Model's analysis:** {model_text(outcome.proposal.root_cause, 1500)}")
    tried = ", ".join(f"{model_text(name, 40, one_line=True)} ×{count}"
                      for name, count in sorted(outcome.tool_calls.items()))
    if tried:
        lines.append(f"**Tried:** {tried}; {len(outcome.rounds)} build/test round(s).")
    lines += ["", *verification_block(outcome, model_text)]
    if outcome.rounds:
        lines += ["", verification_table(outcome)]
    if outcome.branch and outcome.commit:
        lines.append(f"\nThe partial change is on branch {code_span(outcome.branch)} "
                     f"({model_text(outcome.diff_stats, 80, one_line=True)}).")
    lines.append("\n" + (model_text(outcome.retry_hint, 600) if outcome.retry_hint
                         else "To try again, add the label `reanalyze` to this issue."))
    lines.append(f"\n{usage_line(outcome)}")
    lines.append(f"\n{time_text(outcome)}")
    return "\n".join(lines)


def job_summary(outcome: FixOutcome, handed_over: bool = False) -> str:
    """The Actions job summary; `handed_over`: the fix job's, whose result the deliver job writes to GitHub."""
    head = {"fix-proposed": "✅ Draft PR proposed", "needs-human": "❌ No verified fix",
            "refused": "⛔ Refused", "skipped": "➖ Skipped", "dry-run": "🧪 Dry run", "local": "✅ Local fix"}
    what = head[outcome.status]
    if handed_over:
        what = ("✅ Verified fix, handed to the deliver job" if outcome.status == "fix-proposed"
                else f"{what} (the deliver job reports it)")
    lines = [f"## crashfix: {what} for #{outcome.issue_number}", "",
             model_text(outcome.reason, 1000), ""]
    if outcome.pull_url:
        lines.append(f"Pull request: {outcome.pull_url}")
    if outcome.status not in ("refused", "skipped"):
        lines += verification_block(outcome, model_text)
    if outcome.rounds:
        lines += ["", verification_table(outcome)]
    lines += ["", usage_line(outcome), "", time_text(outcome)]
    return "\n".join(lines) + "\n"


def terminal_summary(outcome: FixOutcome) -> str:
    lines = [f"{outcome.status}: {outcome.reason}"]
    if outcome.proposal:
        lines.append(f"root cause: {outcome.proposal.root_cause}")
    if outcome.branch:
        lines.append(f"branch: {outcome.branch}" + (f" at {outcome.commit[:12]}" if outcome.commit else ""))
    if outcome.pull_url:
        lines.append(f"pull request: {outcome.pull_url}")
    for result in outcome.rounds:
        lines.append(f"round {result.round}: " + ("passed" if result.ok else f"{result.failed_phase} failed"))
    if outcome.status not in ("refused", "skipped"):
        lines += [line for line in (f"verification: {outcome.level_text}", baseline_line(outcome),
                                    outcome.regression.detail if outcome.regression else "") if line]
    lines.append(usage_line(outcome).replace(" · ", ", "))
    lines.append(time_line(outcome))
    if outcome.build_folder is not None:
        lines.append(build_folder_line(outcome))
    return "\n".join(lines)


def time_text(outcome: FixOutcome) -> str:
    """The time split, and where it built (the folder's key and state, never the runner's path)."""
    folder = build_folder_line(outcome)
    rounds = f" ({rounds_line(outcome)})" if len(outcome.time_split.rounds) > 1 else ""
    return f"**Time:** {time_line(outcome)}{rounds}" + (f"  \n{model_text(folder, 400, one_line=True)}"
                                                        if folder else "")


def fix_event(outcome: FixOutcome, server_url: str = "https://github.com") -> NotifyEvent | None:
    """What a finished `crashfix fix` run is worth telling: a draft PR, or no verified fix."""
    if outcome.repository is None or outcome.issue_number is None:
        return None
    title = outcome.crash_title.removeprefix("Crash: ") or "crash"
    issue_url = f"{server_url.rstrip('/')}/{outcome.repository}/issues/{outcome.issue_number}"
    if outcome.status == "fix-proposed" and outcome.pull_url:
        return NotifyEvent(kind="pr-opened", repository=outcome.repository, issue_number=outcome.issue_number,
                           title=title, url=outcome.pull_url, detail=outcome.reason)
    if outcome.status == "needs-human":
        return NotifyEvent(kind="fix-failed", repository=outcome.repository, issue_number=outcome.issue_number,
                           title=title, url=issue_url, detail=outcome.reason)
    return None


def after_fix(outcome: FixOutcome, environ: Mapping[str, str], settings: NotifySettings | None = None) -> None:
    """The fixer's hook: one message when the run ended in a PR or gave up; waits at most the timeout."""
    notifier = notifier_from(environ, settings)
    event = fix_event(outcome, environ.get("GITHUB_SERVER_URL") or "https://github.com")
    if notifier is not None and event is not None:
        notifier.send(event)
        notifier.flush()
