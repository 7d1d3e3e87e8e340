"""Line rules for the other tools of a build: linkers (GNU ld, gold, lld, mold, Apple ld, MSVC link),
compiler drivers, and CMake.

Linker errors carry no column and often no line: what explains them is the function that
made the reference (`in function main`) or lld's `>>> referenced by` lines, kept as context.
Summaries such as `collect2: error: ld returned 1 exit status` or `LNK1120` are marked so
that they are shown only when nothing more specific was found.
"""

from __future__ import annotations

import re

from crashfix.fixer.models import Diagnostic
from crashfix.fixer.verify.rules_build import (
    LINE_WIDTH,
    PROJ_SUFFIX,
    SEVERITY,
    Hit,
    ParseState,
    Rule,
    Severity,
    Tool,
    trim_context,
)

_MSVC_TOOL = re.compile(
    r"^\s*(?:command line\s+)?(?P<sev>fatal error|error|warning)\s+(?P<code>[A-Z]{1,4}\d{3,5})\s*:\s*(?P<msg>.*?)\s*$",
    re.I,
)


def msvc_tool(lines: list[str], i: int, state: ParseState) -> Hit | None:
    """`Player.obj : error LNK2019: ...`, `LINK : fatal error LNK1104: ...`, `cl : command line error D8021: ...`."""
    who, colon, rest = lines[i].partition(" : ")  # split, not matched: a regex here backtracks badly
    match = _MSVC_TOOL.match(rest) if colon and who.strip() and ":" not in who.strip()[2:] else None
    if match is None:
        return None
    code, who = match["code"].upper(), who.strip()
    linker = code.startswith("LNK")
    diagnostic = Diagnostic(
        tool="linker" if linker else "msvc", severity=SEVERITY[match["sev"].lower()],
        code=code, message=PROJ_SUFFIX.sub("", match["msg"]),
        context="" if who.lower() in ("link", "cl") else f"in {who}",
    )
    return Hit(i + 1, [diagnostic], summary=code == "LNK1120")


_LD = r"(?:\S*[\\/])?(?:ld|ld\.bfd|ld\.gold|ld\.lld|ld64\.lld|lld|lld-link|mold|collect2)(?:\.exe)?"
_LD_FUNCTION = re.compile(rf"^(?:{_LD}: )?(?P<obj>.+?): in function [`'‘](?P<fn>.+?)['’]:$")
_LD_REFERENCE = re.compile(
    rf"^(?:{_LD}: )?(?P<where>.*?):? ?(?P<msg>(?:undefined reference to|multiple definition of) .+)$"
)
_LD_WHERE = re.compile(r"^(?P<path>.+?):(?:(?P<line>\d+)|\(\.[\w.$]+\+0x[0-9a-f]+\))$")
_LD_TOOL = re.compile(rf"^(?P<who>{_LD}|ld64): (?:(?P<sev>error|warning|fatal error): )?(?P<msg>.+)$")
_LD_SUMMARY = re.compile(r"ld returned \d+ exit status|symbol\(s\) not found|linker command failed")
_REFERENCED_BY = re.compile(r"^>>> referenced by (?P<path>\S+?):(?P<line>\d+)(?: \((?P<full>.+?):\d+\))?")
_APPLE_UNDEFINED = re.compile(r"^(?:ld: )?Undefined symbols(?: for architecture \S+)?:$")
_LINKER_HINT = re.compile(r"in function|undefined reference|multiple definition|Undefined symbols|"
                          r"(?:ld|lld|lld-link|mold|collect2|ld64)(?:\.\w+)?(?:\.exe)?: ")
_DRIVER = re.compile(
    r"^(?P<who>(?:\S*[\\/])?(?:clang(?:\+\+)?(?:-\d+)?|clang-cl|cc1plus|cc1|g\+\+|gcc|c\+\+|cc)(?:\.exe)?): "
    r"(?P<sev>fatal error|error|warning): (?P<msg>.+)$"
)


def linker(lines: list[str], i: int, state: ParseState) -> Hit | None:
    """GNU ld, gold, lld, mold and Apple ld errors, with the references that explain them."""
    line = lines[i]
    if not _LINKER_HINT.search(line):
        return None
    match = _LD_FUNCTION.match(line)
    if match:
        state.link_header = f"in function {match['fn']} ({match['obj']})"
        return Hit(i + 1)
    match = _LD_REFERENCE.match(line)
    if match:
        where = _LD_WHERE.match(match["where"].strip())
        diagnostic = Diagnostic(
            tool="linker", message=match["msg"].strip(), context=state.link_header or "",
            path=where["path"] if where else None, line=int(where["line"]) if where and where["line"] else None,
        )
        return Hit(i + 1, [diagnostic])
    if _APPLE_UNDEFINED.match(line):
        j = i + 1
        while j < len(lines) and lines[j].startswith(" ") and lines[j].strip():
            j += 1
        symbols = lines[i + 1:j]
        message = " ".join([line.strip(), *(symbol.strip() for symbol in symbols[:1])])
        return Hit(j, [Diagnostic(tool="linker", message=message, context=trim_context(symbols[1:]))])
    match = _LD_TOOL.match(line)
    if match is None:
        return None
    j = i + 1
    while j < len(lines) and lines[j].startswith(">>>"):
        j += 1
    referenced = next((m for m in map(_REFERENCED_BY.match, lines[i + 1:j]) if m), None)
    severity: Severity = "warning" if match["sev"] == "warning" else "error"
    diagnostic = Diagnostic(
        tool="linker", severity=severity, message=match["msg"].strip(), context=trim_context(lines[i + 1:j]),
        path=(referenced["full"] or referenced["path"]) if referenced else None,
        line=int(referenced["line"]) if referenced else None,
    )
    return Hit(j, [diagnostic], summary=bool(_LD_SUMMARY.search(match["msg"])))


def driver(lines: list[str], i: int, state: ParseState) -> Hit | None:
    """`clang++: error: no such file or directory: 'x.cpp'`, `cc1plus: error: unrecognized option`."""
    match = _DRIVER.match(lines[i]) if ": " in lines[i] else None
    if match is None:
        return None
    who = match["who"]
    tool: Tool = "clang" if "clang" in who else "gcc"
    message = match["msg"].strip()
    severity = SEVERITY[match["sev"]]
    return Hit(i + 1, [Diagnostic(tool=tool, severity=severity, message=message)],
               summary=bool(_LD_SUMMARY.search(message)))


_CMAKE_AT = re.compile(
    r"^CMake (?P<sev>Error|Warning|Deprecation Warning)(?: \(dev\))? (?:at (?P<path>.+?):(?P<line>\d+)"
    r"(?: \((?P<cmd>[^)]*)\))?|in (?P<in_path>.+?)):\s*$"
)
_CMAKE_PLAIN = re.compile(r"^CMake (?P<sev>Error|Warning)(?: \(dev\))?:\s*(?P<msg>.*)$")


def cmake(lines: list[str], i: int, state: ParseState) -> Hit | None:
    """`CMake Error at CMakeLists.txt:12 (add_executable):` and its indented message; `CMake Error: ...`."""
    if not lines[i].startswith("CMake "):
        return None
    at = _CMAKE_AT.match(lines[i])
    plain = None if at else _CMAKE_PLAIN.match(lines[i])
    if at is None and plain is None:
        return None
    j = i + 1
    while j < len(lines) and (not lines[j].strip() or lines[j][:1].isspace()):
        j += 1
    block = [line.strip() for line in lines[i + 1:j]]
    paragraphs = [part.split("\n") for part in "\n".join(block).strip().split("\n\n") if part.strip()]
    message = plain["msg"].strip() if plain else ""
    if not message and paragraphs:
        message = " ".join(paragraphs.pop(0))
        if message.endswith(":") and paragraphs:
            message += " " + paragraphs[0].pop(0)
    context = [line for paragraph in paragraphs for line in paragraph if line]
    match = at or plain
    assert match is not None
    severity: Severity = "error" if match["sev"] == "Error" else "warning"
    path = (at["path"] or at["in_path"]) if at else None
    diagnostic = Diagnostic(
        tool="cmake", severity=severity, path=path, line=int(at["line"]) if at and at["line"] else None,
        code=at["cmd"] if at else None, message=message[:LINE_WIDTH * 2] or lines[i].strip(),
        context=trim_context(context),
    )
    return Hit(j, [diagnostic])


TOOL_RULES: tuple[Rule, ...] = (msvc_tool, linker, driver, cmake)
