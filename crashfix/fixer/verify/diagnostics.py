"""Turn build and test output into the few diagnostics a model needs to repair its patch.

A failed build prints hundreds of lines; the model is best served by the first errors,
each with its file and line (repository-relative, so it can open the file), the message
and the notes under it. Formats understood: GCC and Clang, MSVC cl and link, GNU ld,
lld and Apple ld, CMake, ctest, GoogleTest, sanitizer reports and failed assertions;
anything else that says `error:` is kept as a last resort. The line rules live in
`diagnostics_build` (compilers), `diagnostics_tools` (linkers, CMake) and
`diagnostics_testrun` (tests); this module runs them and writes the feedback text.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterable
from pathlib import Path

from crashfix.analysis.crash_codes import NTSTATUS, describe_ntstatus, describe_signal
from crashfix.fixer.models import Diagnostic, StepResult, VerifyResult
from crashfix.fixer.verify.rules_build import COMPILER_RULES, Hit, ParseState, Rule, guess_compiler
from crashfix.fixer.verify.rules_tests import LAST_RULES, TEST_RULES, gtest
from crashfix.fixer.verify.rules_tools import TOOL_RULES

# Order matters: GoogleTest's `path(12): error:` before MSVC's, compilers before the `error:` fallback.
RULES: tuple[Rule, ...] = (gtest, *COMPILER_RULES, *TOOL_RULES, *TEST_RULES, *LAST_RULES)
MAX_SHOWN = 10
TAIL_LINES = 40
MAX_LINE = 4000

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_SEVERITY_WORDS = {"fatal": "fatal error"}
_WINDOWS_PATH = re.compile(r"^[A-Za-z]:/|^//")


def strip_ansi(text: str) -> str:
    """Colour codes out (CMAKE_COLOR_DIAGNOSTICS, GTEST_COLOR, -fdiagnostics-color), line ends unified."""
    return _ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "\n")


def relative_path(path: str, root: Path | None) -> str:
    """`path` relative to the checkout when it lies under it; forward slashes either way."""
    windows = "\\" in path or bool(re.match(r"^[A-Za-z]:", path))
    normal = posixpath.normpath(path.strip().strip('"').replace("\\", "/"))
    if root is None:
        return normal
    roots = {str(root).replace("\\", "/").rstrip("/")}
    if not windows:
        try:
            roots.add(root.resolve().as_posix().rstrip("/"))
        except OSError:
            pass
    windows = windows or bool(_WINDOWS_PATH.match(next(iter(roots))))
    for prefix in sorted(roots, key=len, reverse=True):
        head = normal[: len(prefix) + 1]
        if (head.lower() == prefix.lower() + "/") if windows else head == prefix + "/":
            return normal[len(prefix) + 1:]
    if normal.startswith("../"):  # relative to a build directory inside the checkout
        rest = normal
        while rest.startswith("../"):
            rest = rest[3:]
        if (root / rest).is_file():
            return rest
    return normal


def relative_text(text: str, root: Path | None) -> str:
    """`text` with every mention of the checkout's absolute path made repository-relative, as the model's file
    tools take it: `In file included from /home/ci/game/src/World.h:3` becomes `... from src/World.h:3`."""
    if root is None or not text:
        return text
    spellings = {str(root)}
    try:
        spellings.add(str(root.resolve()))
    except OSError:
        pass
    prefixes: set[str] = set()
    for spelling in spellings:
        bare = spelling.rstrip("/\\")
        if len(bare) > 1:
            prefixes |= {bare, bare.replace("\\", "/"), bare.replace("/", "\\")}
    windows = any(_WINDOWS_PATH.match(prefix.replace("\\", "/")) for prefix in prefixes)
    pattern = "|".join(re.escape(prefix) for prefix in sorted(prefixes, key=len, reverse=True))
    return re.sub(rf"(?:{pattern})[/\\]", "", text, flags=re.IGNORECASE if windows else 0)


def parse_diagnostics(output: str, root: Path | None = None) -> list[Diagnostic]:
    """Every diagnostic in `output`, in output order, each path/line/message once."""
    text = strip_ansi(output)
    lines = [line[:MAX_LINE] for line in text.split("\n")]  # past this, a line is a command, not a diagnostic
    state = ParseState(root=root, compiler=guess_compiler(text))
    found: list[tuple[Diagnostic, bool]] = []
    i = 0
    while i < len(lines):
        hit: Hit | None = None
        for rule in RULES:
            hit = rule(lines, i, state)
            if hit is not None:
                break
        if hit is None:
            i += 1
            continue
        found += [(diagnostic, hit.summary) for diagnostic in hit.diagnostics]
        i = max(hit.end, i + 1)
    return _finish(found, root)


def _finish(found: list[tuple[Diagnostic, bool]], root: Path | None) -> list[Diagnostic]:
    """Drop summaries when something specific was found, make paths relative, drop repeats."""
    specific = any(not summary and d.severity != "warning" for d, summary in found)
    result: list[Diagnostic] = []
    seen: set[tuple[str | None, int | None, str]] = set()
    for diagnostic, summary in found:
        if summary and specific:
            continue
        if diagnostic.path:
            diagnostic = diagnostic.model_copy(update={"path": relative_path(diagnostic.path, root)})
        if root is not None:  # notes and include chains name files too
            diagnostic = diagnostic.model_copy(update={"message": relative_text(diagnostic.message, root),
                                                       "context": relative_text(diagnostic.context, root)})
        key = (diagnostic.path, diagnostic.line, diagnostic.message)
        if key not in seen:
            seen.add(key)
            result.append(diagnostic)
    return result


# -- feedback --------------------------------------------------------------------------------


def format_diagnostic(diagnostic: Diagnostic, context_lines: int | None = None) -> str:
    """`src/a.cpp:5:12: error [C2065]: message` and its context indented under it."""
    severity = _SEVERITY_WORDS.get(diagnostic.severity, diagnostic.severity)
    code = f" [{diagnostic.code}]" if diagnostic.code else ""
    if diagnostic.path:
        where = diagnostic.path
        if diagnostic.line:
            where += f":{diagnostic.line}" + (f":{diagnostic.column}" if diagnostic.column else "")
        text = f"{where}: {severity}{code}: {diagnostic.message}"
    else:
        tool = f"{diagnostic.tool} " if diagnostic.tool in ("linker", "cmake", "msvc") else ""
        text = f"{tool}{severity}{code}: {diagnostic.message}"
    context = diagnostic.context.splitlines()
    if context_lines is not None:
        context = context[:context_lines]
    return "\n".join([text, *("    " + line for line in context)])


def _command_text(step: StepResult) -> str:
    text = shlex.join(step.command)
    return text if len(text) <= 200 else text[:197] + "..."


def _step_header(step: StepResult) -> str:
    command = _command_text(step)
    if step.timed_out and step.seconds == 0:
        return f"The {step.phase} command `{command}` was not started: the run's time budget is used up."
    if step.timed_out:
        return (f"The {step.phase} command `{command}` did not finish within its time limit and was killed after "
                f"{step.seconds:.0f} s.")
    if step.returncode is None:
        return f"The {step.phase} command `{command}` could not be started."
    return f"The {step.phase} command `{command}` {_exit_text(step.returncode)}."


def _exit_text(returncode: int) -> str:
    """`failed with exit code 2`, or the signal or Windows exception that ended a crashed command."""
    if returncode < 0:
        name, description, _ = describe_signal(-returncode)
        return f"was killed by {name} ({description})"
    code = f"{returncode:08x}"
    if code in NTSTATUS or 0xC0000000 <= returncode <= 0xFFFFFFFF:  # a Windows exception ended it
        known, _ = describe_ntstatus(code)
        return f"crashed with exception 0x{code.upper()}" + (f" ({known})" if known else "")
    return f"failed with exit code {returncode}"


def _fit_block(diagnostic: Diagnostic, room: int) -> str | None:
    """The diagnostic with as much context as fits in `room` characters, or None if not even its first line."""
    for lines in (None, 6, 3, 1, 0):
        block = format_diagnostic(diagnostic, lines)
        if len(block) <= room:
            return block
    first = format_diagnostic(diagnostic, 0)
    return first[: room - 3] + "..." if room >= 80 else None


def _diagnostic_blocks(chosen: list[Diagnostic], room: int) -> list[str]:
    """The first diagnostics, each with as much context as its share of `room` allows."""
    shown = chosen[:MAX_SHOWN]
    blocks: list[str] = []
    for index, diagnostic in enumerate(shown):
        more = f"[... {len(shown) - index} more not shown]"
        # the first errors matter most: each may take a third of what is left, the last all of it
        block = _fit_block(diagnostic, (room - len(more) - 2) // min(3, len(shown) - index))
        if block is None:
            blocks.append(more)
            break
        blocks.append(block)
        room -= len(block) + 1
    return blocks


def _tail_lines(step: StepResult, room: int) -> list[str]:
    """The end of the output, as many of its last lines as fit, each cut to a sane width."""
    tail = [line[:300] for line in step.output_tail.rstrip().splitlines()[-TAIL_LINES:]]
    while tail and sum(len(line) + 1 for line in tail) > room - 70:
        tail.pop(0)
    return [f"The last {len(tail)} lines of its output:", *tail] if tail else []


def _step_feedback(step: StepResult, limit: int) -> str:
    parts = [_step_header(step)]
    if step.preexisting:  # named nowhere in what the model reads: they are not its to fix
        parts.append(f"({len(step.preexisting)} test failure(s) that were there before your change, on the base "
                     "commit, are left out of what follows.)")
    errors = [d for d in step.diagnostics if d.severity != "warning"]
    chosen = errors or step.diagnostics
    if chosen:
        kind = "errors" if errors else "warnings (no errors were recognised)"
        parts.append(f"First {MAX_SHOWN} of {len(chosen)} {kind}:" if len(chosen) > MAX_SHOWN
                     else f"{kind[0].upper()}{kind[1:]}:")
        room = limit - sum(len(part) + 1 for part in parts)
        parts += _diagnostic_blocks(chosen, room if errors else room * 2 // 3)
    if not errors:  # what really failed was not recognised: the end of the output may say
        parts += _tail_lines(step, limit - sum(len(part) + 1 for part in parts))
        if len(parts) == 1:
            parts.append("It printed nothing.")
    return "\n".join(parts)


def feedback_text(result_or_steps: VerifyResult | StepResult | Iterable[StepResult], limit_chars: int = 4000) -> str:
    """What the model is told after a failed round: the failed command, then its first errors; "" if all passed."""
    if isinstance(result_or_steps, VerifyResult):
        steps = list(result_or_steps.steps)
    elif isinstance(result_or_steps, StepResult):
        steps = [result_or_steps]
    else:
        steps = list(result_or_steps)
    failed = [step for step in steps if not step.passed]  # a failure the base commit had is not the model's
    if not failed:
        return ""
    texts: list[str] = []
    for step in failed:
        room = limit_chars - sum(len(text) + 2 for text in texts)
        if room < 100:
            break
        texts.append(_step_feedback(step, room))
    text = "\n\n".join(texts)
    return text if len(text) <= limit_chars else text[: max(0, limit_chars - 3)] + "..."
