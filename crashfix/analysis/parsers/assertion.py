"""Assertion messages from TrinityCore-style servers, alone or inside other reports.

TrinityCore:   `<file>:<line> in <function> ASSERTION FAILED:` + `  <condition>` (also
               FATAL ERROR / ERROR / ABORTED variants);
AzerothCore:   a `#---#` box with `# Location '<file>:<line>'`, `# Function '<f>'`,
               `# Condition '<c>'` (newer: `# Location: <file>:<line>` without quotes);
MaNGOS:        `<file>:<line> Error: Assertion in <function>: <condition>` (vmangos; WPError adds `failed`);
gdb frames:    `Trinity::Assert (file=0x.. "<file>", line=363, function=0x.. "AddToGrid", ...)` and glibc's
               `__assert_fail (assertion=.., file=.., line=.., function=0x.. "void X::f()")`.

Used by the Wheaty and gdb parsers, and as a parser of its own for logs that hold
nothing but the assertion (a Server.log excerpt, an issue title).
"""

from __future__ import annotations

import re

from crashfix.analysis.crash_codes import describe_signal
from crashfix.analysis.models import AssertionInfo, CrashReport, ExceptionInfo, Frame, SourceFormat
from crashfix.analysis.symbols import strip_parameters
from crashfix.errors import ParseError

FORMAT = SourceFormat.ASSERTION

_TC = re.compile(
    r"(?P<file>(?:[A-Za-z]:)?[^\s:]*\.(?:cpp|cc|cxx|c|h|hpp|hh|inl|ipp))[:(](?P<line>\d+)\)?"
    r"\s+in\s+(?P<function>\S.*?)\s+(?P<kind>ASSERTION FAILED|FATAL ERROR|ERROR|ABORTED)\b[.:]?"
    r"[ \t]*(?P<rest>.*)$"
)
_TC_KIND = re.compile(r"ASSERTION FAILED|FATAL ERROR|ERROR|ABORTED")
_AC_FIELD = re.compile(
    r"^#\s*(?P<key>Location|Function|Condition|Message|Debug info)\s*(?::\s*|')(?P<value>.*?)'?\s*$", re.M
)
# A gdb argument: `file=0x1c5 "x.cpp"`, `file=file@entry=0x1c5 "x.cpp"`, `line=line@entry=1025`,
# `function=0x1c5 <Aura::Unregister()::__FUNCTION__> "Unregister"` (the symbol names the qualified function).
_ARG_PREFIX = r"(?:\w+@entry=)?(?:0x[0-9a-f]+\s+)?"
_GDB_ASSERT = re.compile(
    r"(?P<function>(?:Trinity|Acore|MaNGOS|Warhead|Firelands|Skyfire)::(?:Assert|Abort|Fatal|Error))\s*\(\s*"
    rf"file={_ARG_PREFIX}\"(?P<file>[^\"]+)\",\s*line=(?:\w+@entry=)?(?P<line>\d+),\s*"
    rf"function={_ARG_PREFIX}(?:<(?P<qualified>[^<>]*?)::__(?:FUNCTION|func|PRETTY_FUNCTION)__>\s*)?"
    rf"\"(?P<where>[^\"]+)\"(?:,\s*(?:debugInfo=[^,]*,\s*)?message={_ARG_PREFIX}\"(?P<cond>[^\"]*)\")?"
)
# glibc's assert(): `__assert_fail (assertion=0x.. "p", file=0x.. "x.cpp", line=12, function=0x.. "void X::f()")`;
# `__assert_fail_base` takes `fmt=` first, and gdb may wrap the arguments over several lines.
_GLIBC_ASSERT = re.compile(r"__assert_fail\w*\s*\(")
_GDB_ARG = re.compile(r"\b(?P<key>assertion|file|line|function)=(?:\w+@entry=)?(?:0x[0-9a-f]+\s+)?(?:<[^<>]*>\s*)?"
                      r"(?:\"(?P<text>(?:[^\"\\]|\\.)*)\"|(?P<number>\d+))")
_ARGS_WINDOW = 1200
# MaNGOS family: `src/game/Map.cpp:123 Error: Assertion in Map::Add: p (msg)` (vmangos MANGOS_ASSERT) and
# `Map.cpp:123: Error: Assertion in Add failed: p` (WPError), usually behind a log timestamp.
_MANGOS = re.compile(
    r"(?P<file>(?:[A-Za-z]:)?[^\s:]*\.(?:cpp|cc|cxx|c|h|hpp|hh|inl|ipp)):(?P<line>\d+):?\s+Error:\s+Assertion in\s+"
    r"(?P<function>[^\s:]+(?:::[^\s:]+)*)(?:\s+failed)?:\s*(?P<cond>.*?)\s*$",
    re.M,
)


def find_assertion(text: str) -> AssertionInfo | None:
    """The first assertion message in the text, in any of the known layouts."""
    fields = {}
    if "# Location" in text or "# Function" in text:
        fields = {m.group("key").lower(): m.group("value").strip() for m in _AC_FIELD.finditer(text)}
    if "location" in fields or "function" in fields:
        file, line = _split_location(fields.get("location", ""))
        return AssertionInfo(
            file=file, line=line, function=fields.get("function") or None,
            condition=fields.get("condition") or None,
            message=fields.get("message") or fields.get("debug info") or None,
        )
    tc = _find_tc(text)
    if tc is not None:
        return tc
    if "Error: Assertion in" in text:
        mangos = _MANGOS.search(text)
        if mangos:
            return AssertionInfo(file=mangos.group("file"), line=int(mangos.group("line")),
                                 function=mangos.group("function"), condition=mangos.group("cond") or None,
                                 message="Assertion")
    if "file=" not in text:
        return None
    match = _GDB_ASSERT.search(text)
    if match:
        where = strip_parameters(match.group("qualified")) if match.group("qualified") else match.group("where")
        return AssertionInfo(
            file=match.group("file"), line=int(match.group("line")), function=where,
            condition=match.group("cond"), message=match.group("function"),
        )
    return _glibc_assertion(text) if "__assert_fail" in text else None


def _glibc_assertion(text: str) -> AssertionInfo | None:
    """The first `__assert_fail*` frame whose arguments name the function."""
    for call in _GLIBC_ASSERT.finditer(text):
        args: dict[str, str] = {}
        for arg in _GDB_ARG.finditer(text, call.end(), call.end() + _ARGS_WINDOW):
            value = arg.group("text") if arg.group("text") is not None else arg.group("number")
            args.setdefault(arg.group("key"), value)
        if args.get("function"):
            line = args.get("line")
            return AssertionInfo(file=args.get("file"), line=int(line) if line and line.isdigit() else None,
                                 function=strip_parameters(args["function"]), condition=args.get("assertion"),
                                 message="assert")
    return None


def _find_tc(text: str) -> AssertionInfo | None:
    """TrinityCore's `file:line in Function ASSERTION FAILED:` with the condition on the next line.

    Only the lines holding one of the kinds are looked at (found by one scan of the text):
    this runs on every input during detection.
    """
    seen = -1
    for kind in _TC_KIND.finditer(text):
        start = text.rfind("\n", 0, kind.start()) + 1
        if start == seen:
            continue
        seen = start
        end = text.find("\n", kind.end())
        end = len(text) if end < 0 else end
        line = text[start:end]
        if len(line) > 4000 or " in " not in line:
            continue
        match = _TC.search(line)
        if match is None:
            continue
        condition = match.group("rest").strip()
        following_end = text.find("\n", end + 1)
        following = text[end + 1 : following_end if following_end >= 0 else len(text)] if end < len(text) else ""
        if not condition and following[:1] in (" ", "\t"):
            condition = following.strip()
        return AssertionInfo(
            file=match.group("file"), line=int(match.group("line")), function=match.group("function").strip(),
            condition=condition or None, message=match.group("kind"),
        )
    return None


def _split_location(location: str) -> tuple[str | None, int | None]:
    match = re.match(r"^(?P<file>.+?):(?P<line>\d+)$", location.strip("' "))
    if match:
        return match.group("file"), int(match.group("line"))
    return (location or None), None


def assertion_frame(info: AssertionInfo, index: int = 0) -> Frame | None:
    """A frame standing for the assertion site, for reports that lost their stack."""
    if not info.function and not info.file:
        return None
    function = strip_parameters(info.function) if info.function else None  # `World:Shutdown` was retyped
    return Frame(index=index, function=function, file=info.file, line=info.line, trust="assertion")


def sniff(text: str) -> float:
    head = text[:100_000]
    if _find_tc(head) is not None or ("Error: Assertion in" in head and _MANGOS.search(head)):
        return 0.6
    if "file=" in head and (_GDB_ASSERT.search(head) or ("__assert_fail" in head and _glibc_assertion(head))):
        return 0.45  # an assertion inside gdb output: the gdb parser, when it finds frames, knows more
    if "# Location" not in head or "# Function" not in head:
        return 0.0
    fields = {m.group("key") for m in _AC_FIELD.finditer(head)}
    return 0.6 if {"Location", "Function"} <= fields else 0.0


def parse(text: str) -> CrashReport:
    info = find_assertion(text)
    if info is None:
        raise ParseError("no assertion message found (expected 'file:line in Function ASSERTION FAILED')")
    report = CrashReport(format=FORMAT, assertion=info)
    frame = assertion_frame(info)
    if frame is not None:
        report.frames = [frame]
    signal = re.search(r"\b(SIG[A-Z]{2,6})\b", text)
    if signal:
        name, description, _ = describe_signal(signal.group(1))
        report.exception = ExceptionInfo(code=name, name=description, crash_class="assert")
    else:
        report.exception = ExceptionInfo(name=info.message or "ASSERTION FAILED", crash_class="assert")
    report.warn("no-frames", "only the assertion message is present, no stack")
    return report
