"""The first message the model reads: the crash (quoted, untrusted), the located code, the notes.

Templates are files in `crashfix/prompts/`; this module only fills them. Everything that
came from a crash or a person goes through `untrusted.quote`; code from the checkout is
shown as code with its path and line range, so the model can cite and edit it exactly.
The headings and lists around that code name frames by their function, which comes from
the crash report: those names go through `untrusted.inline`, so they cannot close the
quoted block or start a line of their own.
"""

from __future__ import annotations

from string import Template

from crashfix.analysis.models import CrashReport, Frame
from crashfix.analysis.render import describe_exception
from crashfix.fixer.agent.session import prompt_file
from crashfix.fixer.models import VerifyResult
from crashfix.github.records import ReviewNote
from crashfix.locate.models import CodeContext
from crashfix.untrusted import clean_human_text, inline, quote

MAX_FRAMES_SHOWN = 24


def crash_text(report: CrashReport, human_text: str = "") -> str:
    """The crash as data: exception, frames (blamed one marked), assertion, related stacks, build."""
    lines = [f"Exception: {describe_exception(report.exception)}"]
    if report.assertion and (report.assertion.message or report.assertion.condition):
        lines.append(f"Assertion: {report.assertion.condition or ''} {report.assertion.message or ''}".strip())
    if report.build and (report.build.revision or report.build.version):
        lines.append(f"Build: {report.build.version or ''} {report.build.revision or ''}".strip())
    if report.signature:
        lines.append(f"Signature: {report.signature.text}")
    lines.append("Stack (innermost first):")
    lines += [_frame_line(f, f.index == report.blamed_frame_index) for f in report.frames[:MAX_FRAMES_SHOWN]]
    for stack in report.related_stacks[:2]:
        lines.append(f"{stack.title}:")
        lines += [_frame_line(f, False) for f in stack.frames[:12]]
    text = quote("crash report", "\n".join(lines))
    if human_text.strip():
        text += "\n\nWhat people wrote on the issue:\n" + quote("issue text", clean_human_text(human_text))
    return text


def _frame_line(frame: Frame, blamed: bool) -> str:
    where = f" at {frame.source()}" if frame.source() else ""
    mark = "  <== blamed" if blamed else ""
    return f"  #{frame.index} {frame.location()}{where}{mark}"


def code_text(context: CodeContext) -> str:
    if not context.snippets:
        return "No source file of the stack was found in the checkout; use search and find_definition.\n"
    blocks = []
    for snippet in context.snippets:
        heading = f"{inline(snippet.path, 300)} lines {snippet.start_line}-{snippet.end_line}"
        blocks.append(f"### {heading} ({inline(snippet.reason, 400)})\n```cpp\n{snippet.text.rstrip()}\n```")
    if context.dropped:
        blocks.append("Left out for length (read them if needed): "
                      + "; ".join(inline(reason, 300) for reason in context.dropped[:10]))
    return "\n\n".join(blocks) + "\n"


def frames_text(context: CodeContext) -> str:
    found = [f for f in context.frames if f.path]
    if not found:
        return ""
    lines = [f"- frame #{f.frame_index} {inline(f.function) or '?'} -> {inline(f.path, 300)}:{f.line or '?'} ({f.how})"
             for f in found]
    return "\nWhere the stack's frames are in the checkout:\n" + "\n".join(lines) + "\n"


def instructions_text(context: CodeContext) -> str:
    if not context.instructions:
        return ""
    return (f"\n## Project notes ({context.instructions_path}, from the repository)\n"
            f"{context.instructions.strip()}\n")


def reanalyze_text(previous: dict[str, object] | None, reviews: list[ReviewNote]) -> str:
    if previous is None and not reviews:
        return ""
    summary = "none recorded"
    if previous:
        summary = (f"status {previous.get('status')}: {previous.get('reason') or ''}\n"
                   f"root cause given: {previous.get('root_cause') or '-'}\nfix: {previous.get('fix_summary') or '-'}")
    notes = "\n".join(f"- {n.author}{f' on {n.path}:{n.line}' if n.path else ''}"
                      f"{f' ({n.state})' if n.state else ''}: {clean_human_text(n.body, 1500)}" for n in reviews)
    return Template(prompt_file("reanalyze.md")).safe_substitute(
        previous=quote("previous attempt", clean_human_text(summary, 3000)),
        reviews=quote("review comments", notes) if notes else "(none)")


def task_message(*, issue_number: int | None, repository: str, report: CrashReport, context: CodeContext,
                 human_text: str = "", extra: str = "") -> str:
    reported = (f"reported in issue #{issue_number} of {repository}" if issue_number is not None else
                f"in the crash report a developer gave crashfix for a local run in {repository} (there is no issue)")
    return Template(prompt_file("task.md")).safe_substitute(
        reported=reported, issue_number=issue_number if issue_number is not None else "", repository=repository,
        crash=crash_text(report, human_text), code=code_text(context), frames=frames_text(context),
        instructions=instructions_text(context), extra=extra)


def dump_note(dump_path: str | None) -> str:
    """Where the crash's dump is (the issue record), for a tool server that opens dumps; empty without one."""
    if not dump_path:
        return ""
    return (f"\nThe crash dump is at `{inline(dump_path, 400).replace('`', '')}` (where this machine reads it): "
            "a tool server that opens dumps can read it.\n")


def repair_message(result: VerifyResult, rounds_left: int) -> str:
    return Template(prompt_file("repair.md")).safe_substitute(
        round=result.round, phase=result.failed_phase or "a step", rounds_left=rounds_left,
        feedback=quote("build and test output", result.feedback or "(no output)", kind="tool-output"))
