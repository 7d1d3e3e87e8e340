"""Assertion messages from TrinityCore-style servers, alone or inside other reports.

TrinityCore:   `<file>:<line> in <function> ASSERTION FAILED:` + `  <condition>` (also
               FATAL ERROR / ERROR / ABORTED variants);
AzerothCore:   a `#---#` box with `# Location '<file>:<line>'`, `# Function '<f>'`,
               `# Condition '<c>'` (newer: `# Location: <file>:<line>` without quotes);
gdb frames:    `Trinity::Assert (file=0x.. "<file>", line=363, function=0x.. "AddToGrid", ...)`.

Used by the Wheaty and gdb parsers, and as a parser of its own for logs that hold
nothing but the assertion (a Server.log excerpt, an issue title).
"""

from __future__ import annotations

import re

from crashfix.analysis.crash_codes import describe_signal
from crashfix.analysis.models import AssertionInfo, CrashReport, ExceptionInfo, Frame, SourceFormat
from crashfix.errors import ParseError

FORMAT = SourceFormat.ASSERTION

_TC = re.compile(
    r"(?P<file>(?:[A-Za-z]:)?[^\s:]*\.(?:cpp|cc|cxx|c|h|hpp|hh|inl|ipp))[:(](?P<line>\d+)\)?"
    r"\s+in\s+(?P<function>\S.*?)\s+(?P<kind>ASSERTION FAILED|FATAL ERROR|ERROR|ABORTED)\b[.:]?"
    r"[ \t]*(?P<rest>.*)$"
)
_TC_KINDS = ("ASSERTION FAILED", "FATAL ERROR", "ERROR", "ABORTED")
_AC_FIELD = re.compile(
    r"^#\s*(?P<key>Location|Function|Condition|Message|Debug info)\s*(?::\s*|')(?P<value>.*?)'?\s*$", re.M
)
_GDB_ASSERT = re.compile(
    r"(?P<function>(?:Trinity|Acore|MaNGOS)::(?:Assert|Abort|Fatal|Error))\s*\("
    r"file=(?:0x[0-9a-f]+\s+)?\"(?P<file>[^\"]+)\",\s*line=(?P<line>\d+),\s*"
    r"function=(?:0x[0-9a-f]+\s+)?\"(?P<where>[^\"]+)\"(?:,\s*message=(?:0x[0-9a-f]+\s+)?\"(?P<cond>[^\"]*)\")?"
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
    match = _GDB_ASSERT.search(text)
    if match:
        return AssertionInfo(
            file=match.group("file"), line=int(match.group("line")), function=match.group("where"),
            condition=match.group("cond"), message=match.group("function"),
        )
    return None


def _find_tc(text: str) -> AssertionInfo | None:
    """TrinityCore's `file:line in Function ASSERTION FAILED:` with the condition on the next line."""
    lines = text.split("\n")
    for number, line in enumerate(lines):
        if len(line) > 4000 or " in " not in line or not any(kind in line for kind in _TC_KINDS):
            continue
        match = _TC.search(line)
        if match is None:
            continue
        condition = match.group("rest").strip()
        following = lines[number + 1] if number + 1 < len(lines) else ""
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
    return Frame(index=index, function=info.function, file=info.file, line=info.line, trust="assertion")


def sniff(text: str) -> float:
    head = text[:100_000]
    if _find_tc(head) is not None or ("file=" in head and _GDB_ASSERT.search(head)):
        return 0.6
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
