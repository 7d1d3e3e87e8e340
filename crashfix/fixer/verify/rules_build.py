"""Line rules for compiler output (GCC, Clang, MSVC cl), and what all rules share.

Each rule looks at one line (and may read ahead); it either does not apply (None) or
says how many lines it consumed and what, if anything, it found. Rules keep the lines
that explain an error (notes, the source excerpt, carets, include chains) as its
context, because a model fixes "no match for operator+" far better with the candidate
list under it than without.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from crashfix.fixer.models import Diagnostic

CONTEXT_LINES = 8
LINE_WIDTH = 240


@dataclass
class Hit:
    """What a rule consumed (`end` is the first line it did not) and found."""

    end: int
    diagnostics: list[Diagnostic] = field(default_factory=list)
    summary: bool = False  # "ld returned 1 exit status": only worth showing when nothing better was found


@dataclass
class ParseState:
    """What earlier lines said that later ones need: the enclosing function, the running test..."""

    root: Path | None = None
    compiler: str = "gcc"
    header: tuple[str, str] | None = None  # (path, "a.cpp: In function 'int f()':")
    includes: tuple[int, list[str]] | None = None  # (index of the line after the chain, the chain)
    link_header: str | None = None
    gtest_test: str | None = None
    failed_tests: set[str] = field(default_factory=set)


Rule = Callable[[list[str], int, ParseState], "Hit | None"]


def trim_context(lines: list[str], limit: int = CONTEXT_LINES) -> str:
    """A few context lines, each cut to a sane width, with a count of what was left out."""
    kept = [line.rstrip()[:LINE_WIDTH] for line in lines[:limit]]
    if len(lines) > limit:
        kept.append(f"[... {len(lines) - limit} more lines]")
    return "\n".join(kept)


PROJ_SUFFIX = re.compile(r"\s+\[[^\[\]]+\.(?:vcxproj|csproj|vcproj|proj|sln|targets)\]\s*$", re.I)
_WFLAG = re.compile(r"\s+\[(?P<flag>-W[\w=+,-]*(?:,-W[\w=+-]*)*)\]$")
GCC_LINE = re.compile(
    r"^(?P<path>(?:[A-Za-z]:[\\/])?[^:\s][^:]*?):(?P<line>\d+):(?:(?P<col>\d+):)?\s+"
    r"(?P<sev>fatal error|error|warning|note|runtime error)\s*:\s*(?P<msg>.*)$"
)
MSVC_LINE = re.compile(
    r"^\s*(?P<path>(?:[A-Za-z]:)?[^:]*?[^\s:])\s?\((?P<line>\d+)(?:,(?P<col>\d+))?(?:,\d+){0,2}\)\s*:\s*"
    r"(?P<sev>fatal error|error|warning|note|message)(?:\s+(?P<code>[A-Z]{1,4}\d{3,5}))?\s*:\s*(?P<msg>.*?)\s*$"
)
_MSVC_HINT = re.compile(r"\(\d+(?:,\d+){0,3}\)\s*:\s*(?:fatal error|error|warning|note|message)\b")
_HEADER = re.compile(
    r"^(?P<path>[^\s:][^:]*?|[A-Za-z]:[\\/][^:]*?): (?:In (?:member |static member |lambda |copy )?function|"
    r"In constructor|In destructor|In instantiation of|In substitution of|At global scope|At top level|"
    r"In lambda function|In function template).*:$"
)
_INCLUDED = re.compile(r"^In file included from .+:\d+[,:]?$")
_FROM = re.compile(r"^\s+from .+:\d+[,:]?$")
_GUTTER = re.compile(r"^\s*(?:\d+|\+\+\+)?\s*\|")
_CARET = re.compile(r"^\s*[\^~][\s^~]*$")
_REQUIRED = re.compile(r"^\S.*?:\d+:(?:\d+:)?\s+(?:required from|required by|recursively required|in (?:constexpr )?"
                       r"expansion of)")
_MSVC_WITH = re.compile(r"^\s+(?:with|and|\[|\]|\w+=.*)$")
Severity = Literal["error", "warning", "fatal", "failure"]
Tool = Literal["gcc", "clang", "msvc", "linker", "cmake", "test", "other"]
_GCC_HINT = re.compile(r": (?:fatal error|error|warning|note|runtime error)\b")
SEVERITY: dict[str, Severity] = {
    "fatal error": "fatal", "error": "error", "warning": "warning", "runtime error": "failure",
}


def _gcc_note(line: str) -> bool:
    match = GCC_LINE.match(line)
    return match is not None and match["sev"] == "note"


def _msvc_note(line: str) -> bool:
    match = MSVC_LINE.match(line)
    return match is not None and match["sev"] in ("note", "message")


def collect_context(lines: list[str], start: int, is_note: Callable[[str], bool]) -> tuple[list[str], int]:
    """The lines after a diagnostic that belong to it: excerpt, carets, notes, include chains of notes."""
    context: list[str] = []
    j = start
    while j < len(lines):
        line = lines[j]
        if _GUTTER.match(line) or _CARET.match(line) or is_note(line) or _REQUIRED.match(line) \
                or _MSVC_WITH.match(line):
            context.append(line)
            j += 1
        elif line.strip() and j + 1 < len(lines) and _CARET.match(lines[j + 1]) and "|" not in lines[j + 1]:
            context += [line, lines[j + 1]]  # an excerpt without GCC's gutter (older Clang, MSVC /diagnostics:caret)
            j += 2
        elif _INCLUDED.match(line):
            k = j + 1
            while k < len(lines) and _FROM.match(lines[k]):
                k += 1
            if k >= len(lines) or not is_note(lines[k]):
                break
            context += lines[j:k]
            j = k
        else:
            break
    return context, j


def gcc_header(lines: list[str], i: int, state: ParseState) -> Hit | None:
    """`a.cpp: In function 'int f()':` names the function for the errors that follow."""
    match = _HEADER.match(lines[i]) if lines[i].endswith(":") else None
    if match is None:
        return None
    state.header = (match["path"], lines[i].strip()[len(match["path"]) + 2:])
    if state.includes and state.includes[0] == i:  # the chain comes first, then the function, then the error
        state.includes = (i + 1, state.includes[1])
    return Hit(i + 1)


def include_chain(lines: list[str], i: int, state: ParseState) -> Hit | None:
    """`In file included from a.cpp:1:` before an error in a header: kept for that error."""
    if not lines[i].startswith("In file included from ") or not _INCLUDED.match(lines[i]):
        return None
    j = i + 1
    while j < len(lines) and _FROM.match(lines[j]):
        j += 1
    state.includes = (j, [line.strip() for line in lines[i:j]])
    return Hit(j)


def _prefix(state: ParseState, i: int, path: str) -> list[str]:
    """Header and include-chain lines that introduce the diagnostic on line `i`."""
    prefix: list[str] = []
    if state.includes and state.includes[0] == i:
        prefix += state.includes[1]
    state.includes = None
    if state.header and state.header[0] == path:
        prefix.append(state.header[1])
    return prefix


def gcc_line(lines: list[str], i: int, state: ParseState) -> Hit | None:
    """`path:line:col: error: message [-Wflag]` from GCC or Clang, with what follows it."""
    match = GCC_LINE.match(lines[i]) if _GCC_HINT.search(lines[i]) else None
    if match is None:
        return None
    context, end = collect_context(lines, i + 1, _gcc_note)
    if match["sev"] == "note":
        return Hit(end)  # a note with no diagnostic before it: nothing to attach it to
    message, code = match["msg"].strip(), None
    flag = _WFLAG.search(message)
    if flag:
        message, code = message[: flag.start()], flag["flag"]
    runtime = match["sev"] == "runtime error"  # UBSan, printed by a test
    diagnostic = Diagnostic(
        tool="test" if runtime else "clang" if state.compiler == "clang" else "gcc",
        severity=SEVERITY[match["sev"]],
        path=match["path"], line=int(match["line"]), column=int(match["col"]) if match["col"] else None,
        code=code, message=message[:LINE_WIDTH * 2],
        context=trim_context(_prefix(state, i, match["path"]) + context),
    )
    return Hit(end, [diagnostic])


def msvc_line(lines: list[str], i: int, state: ParseState) -> Hit | None:
    """`path(line[,col]): error C2065: message [proj.vcxproj]` from cl, clang-cl or MSBuild."""
    match = MSVC_LINE.match(lines[i]) if _MSVC_HINT.search(lines[i]) else None
    if match is None:
        return None
    context, end = collect_context(lines, i + 1, _msvc_note)
    if match["sev"] in ("note", "message"):
        return Hit(end)
    code = match["code"]
    tool: Tool = "msvc" if code and code[0] in "CDR" else "linker" if code and code.startswith("LNK") \
        else "other" if code else "clang"
    diagnostic = Diagnostic(
        tool=tool,
        severity=SEVERITY[match["sev"]],
        path=match["path"], line=int(match["line"]), column=int(match["col"]) if match["col"] else None,
        code=code, message=PROJ_SUFFIX.sub("", match["msg"])[:LINE_WIDTH * 2],
        context=trim_context([PROJ_SUFFIX.sub("", line) for line in context]),
    )
    return Hit(end, [diagnostic], summary=bool(code and code.startswith("MSB")))


_CLANG_HINT = re.compile(r"\bclang(?:\+\+|-cl)?\b|\b\d+ (?:errors?|warnings?) generated\.")
_IDENTIFICATION = re.compile(r"compiler identification is (GNU|Clang|AppleClang|MSVC)")


def guess_compiler(text: str) -> str:
    """GCC and Clang print the same line format; which one it was shows elsewhere in the output."""
    identified = _IDENTIFICATION.search(text)
    if identified:
        return "gcc" if identified[1] in ("GNU", "MSVC") else "clang"
    return "clang" if _CLANG_HINT.search(text) else "gcc"


COMPILER_RULES: tuple[Rule, ...] = (gcc_header, include_chain, gcc_line, msvc_line)
