"""Sanitizer reports: AddressSanitizer (Linux, macOS and Windows wording), UBSan, LSan, MSan, TSan.

The first stack after the `ERROR:` line is the crash; later stacks (`freed by thread
T0 here:`, `previously allocated by`) are kept as related stacks, because a
use-after-free is usually fixed where the memory was freed. Lines from other
processes (`==17692==WARNING`) and application logging before the report are noise.
"""

from __future__ import annotations

import re

from crashfix.analysis.crash_codes import describe_sanitizer
from crashfix.analysis.models import (
    MAX_FRAMES,
    CrashReport,
    ExceptionInfo,
    Frame,
    RelatedStack,
    SourceFormat,
    replace_index,
)
from crashfix.analysis.parsers.sniffing import marker, score
from crashfix.analysis.symbols import split_symbol, strip_parameters
from crashfix.errors import ParseError

FORMAT = SourceFormat.SANITIZER
MAX_RUNTIME_ERRORS = 50  # UBSan reports kept beside the first (a noisy build prints thousands)

_ERROR = re.compile(
    r"^(?:==\d+==)?\s*ERROR: (?P<tool>\w*Sanitizer): (?P<kind>.+?)"
    r"(?: on (?:unknown )?address:? (?P<addr>0x[0-9a-fA-F]+)| on (?P<addr2>0x[0-9a-fA-F]+)"
    r"|: (?P<addr3>0x[0-9a-fA-F]+)|$)"
    r"(?P<tail>.*)$",
    re.M,
)
_OLD_MARKER = re.compile(r"^ASAN:(?P<sig>SIG[A-Z]+)\s*$", re.M)
_UBSAN = re.compile(r"^(?P<file>\S+?):(?P<line>\d+):(?:(?P<col>\d+):)? runtime error: (?P<msg>.+)$", re.M)
_WARNING = re.compile(r"^(?:==\d+==)?\s*WARNING: ThreadSanitizer: (?P<kind>[\w -]+?)(?: \(pid=\d+\))?\s*$", re.M)
_ACCESS = re.compile(
    r"^(?P<rw>READ|WRITE) of size (?P<size>\d+) at 0x[0-9a-fA-F]+ thread (?P<thread>T\d+(?: \([^)]*\))?)", re.M
)
_SIGNAL_ACCESS = re.compile(r"The signal is caused by a (?P<rw>READ|WRITE) memory access")
_THREAD = re.compile(r"\b(?:thread|\bin thread)\s+(?P<thread>T\d+(?: \([^)]*\))?)|\((?:pc|sp) .* (?P<t2>T\d+)\)")
_FRAME = re.compile(
    r"^\s*#(?P<num>\d+)\s+(?:(?P<addr>0x[0-9a-fA-F]+)\s+(?:in\s+(?P<rest>.*?)|(?P<bare>\(.*\)))"
    r"|(?P<tsan>(?!0x)[^\s#].*?))\s*$"  # ThreadSanitizer prints frames without a pc
)
_MODULE = re.compile(r"\s*\((?P<mod>[^()+]*(?:\+[^()+]*)*?)\+(?P<off>0x[0-9a-fA-F]+)\)$")
_LOCATION_TOKEN = re.compile(
    r"(?P<file>(?:[A-Za-z]:)?\S*[/\\]\S*?|[\w.\-]+\.(?:c|cc|cpp|cxx|h|hh|hpp|hxx|inl|inc|mm|m|d|rs|S|s))"
    r"(?::(?P<line>\d+)(?::(?P<col>\d+))?)?"
)
_SUMMARY = re.compile(r"^SUMMARY: (?P<tool>\w+Sanitizer): (?P<text>.+)$", re.M)
# `heap-use-after-free /src/a.cc:13:5 in Foo::bar(int)`, `SEGV (/bin/srv+0x1234) in main`, `... in ` (no function)
_SUMMARY_PARTS = re.compile(
    r"^(?P<kind>\S+(?: \S+)*?)"
    r"(?: (?:(?P<file>\S+?):(?P<line>\d+)(?::\d+)?|\((?P<mod>[^()]*?)\+(?P<off>0x[0-9a-fA-F]+)\)))?"
    r"(?: in(?: (?P<function>.+?))?)?\s*$"
)
_MARKERS = (
    marker("Sanitizer:", 0.8, r"ERROR: \w*Sanitizer:"),
    marker("SUMMARY: ", 0.5, r"^SUMMARY: \w+Sanitizer:"),
    marker("DEADLYSIGNAL", 0.5),
    marker("ASAN:SIG", 0.5),
    marker("runtime error: ", 0.5),
    marker("WARNING: ThreadSanitizer:", 0.7),
)
_KIND_CODES = {
    "attempting double-free": "double-free",
    "attempting free on address which was not malloc()-ed": "bad-free",
    "detected memory leaks": "memory-leak",
}


def sniff(text: str) -> float:
    return score(text[:200_000], _MARKERS)


def parse(text: str) -> CrashReport:
    report = CrashReport(format=FORMAT)
    error = _ERROR.search(text)
    start = 0
    if error:
        start = error.end()
        kind = error.group("kind").strip()
        code = _KIND_CODES.get(kind, kind)
        address = error.group("addr") or error.group("addr2") or error.group("addr3")
        report.exception = ExceptionInfo(
            code=code, name=f"{error.group('tool')}: {kind}", crash_class=describe_sanitizer(code),
            address=int(address, 16) if address else None,
        )
        if code == "memory-leak":
            report.kind = "leak"
    else:
        report.exception, start = _other_finding(text)
    summary = _SUMMARY.search(text)
    summary_frame = _summary_frame(summary) if summary else None
    if report.exception is None and summary is not None:  # a chunk of the report: only its SUMMARY line is whole
        kind = _SUMMARY_PARTS.match(summary.group("text").strip())
        code = kind.group("kind") if kind else summary.group("text").split()[0]
        report.exception = ExceptionInfo(code=code, name=f"{summary.group('tool')}: {code}",
                                         crash_class=describe_sanitizer(code))
        report.warn("truncated", "only part of the sanitizer report is present: its SUMMARY line names the site")
    if report.exception is None:
        raise ParseError("no sanitizer report found (expected '==PID==ERROR: AddressSanitizer: ...')")
    access = _ACCESS.search(text, start) or _SIGNAL_ACCESS.search(text, start)
    if access:
        report.exception.access = access.group("rw").lower()  # type: ignore[assignment]
        if "size" in access.groupdict() and access.group("size"):
            report.exception.detail = f"{access.group('rw')} of size {access.group('size')}"
    thread = _THREAD.search(text, max(0, start - 400))
    if thread:
        report.crashing_thread = thread.group("thread") or thread.group("t2")
    stacks = _stacks(text[start:] if error else text)
    if stacks:
        report.frames = stacks[0][1]
        report.related_stacks = [RelatedStack(title=title, frames=frames) for title, frames, _ in stacks[1:] if frames]
    if summary_frame is not None and _summary_knows_better(report.frames, stacks[0][2] if stacks else 0):
        report.frames = [summary_frame, *(replace_index(f, i + 1) for i, f in enumerate(report.frames))]
    if not report.frames:
        ubsan = _UBSAN.search(text)
        if ubsan:
            report.frames = [Frame(index=0, file=ubsan.group("file"), line=int(ubsan.group("line")), symbols="none")]
        report.warn("no-frames", "the sanitizer report has no stack (set print_stacktrace=1 / symbolize=1)")
    _other_runtime_errors(report, text)
    if summary:
        report.facts["summary"] = summary.group("text").strip()
    report.os = "windows" if re.search(r"[A-Za-z]:\\", text[start : start + 4000]) else "linux"
    if error and not summary and "ABORTING" not in text:
        report.warn("truncated", "the sanitizer report is cut short (no SUMMARY line)")
    return report


def _summary_frame(summary: re.Match[str]) -> Frame | None:
    """The site the SUMMARY line names, when it names a function."""
    parts = _SUMMARY_PARTS.match(summary.group("text").strip())
    if parts is None or not parts.group("function"):
        return None
    function = strip_parameters(parts.group("function"))
    module = re.split(r"[\\/]", parts.group("mod"))[-1] if parts.group("mod") else None
    return Frame(index=0, function=function, file=parts.group("file"),
                 line=int(parts.group("line")) if parts.group("line") else None, module=module or None,
                 trust="summary")


def _summary_knows_better(frames: list[Frame], first_number: int) -> bool:
    """The stack lost its top (a chunk starting at `#7`), or its top frames have no symbols."""
    if not frames or first_number > 0:
        return True
    return all(f.function is None for f in frames[:2])


def _other_runtime_errors(report: CrashReport, text: str) -> None:
    """UBSan reports every error it finds: the first is the report, the others are kept beside it."""
    if "runtime error: " not in text:
        return
    seen: set[tuple[str, str, str]] = set()
    found = list(_UBSAN.finditer(text))
    for match in found[1:MAX_RUNTIME_ERRORS]:
        key = (match.group("file"), match.group("line"), match.group("msg"))
        if key in seen or (found[0].group("file"), found[0].group("line"), found[0].group("msg")) == key:
            continue
        seen.add(key)
        frame = Frame(index=0, file=match.group("file"), line=int(match.group("line")), symbols="none")
        report.related_stacks.append(RelatedStack(title=f"runtime error: {match.group('msg').strip()}",
                                                  frames=[frame]))


def _other_finding(text: str) -> tuple[ExceptionInfo | None, int]:
    """UBSan runtime errors, TSan warnings, old `ASAN:SIGSEGV` reports without ERROR line."""
    tsan = _WARNING.search(text)
    if tsan:
        kind = tsan.group("kind").strip()
        return ExceptionInfo(code=kind, name=f"ThreadSanitizer: {kind}", crash_class=kind), tsan.end()
    ubsan = _UBSAN.search(text)
    if ubsan:
        return (
            ExceptionInfo(code="undefined-behavior", name="UndefinedBehaviorSanitizer: runtime error",
                          crash_class="undefined-behavior", detail=ubsan.group("msg").strip()),
            ubsan.start(),
        )
    old = _OLD_MARKER.search(text)
    if old:
        return ExceptionInfo(code="SEGV", name="AddressSanitizer: SEGV", crash_class="access-violation"), old.end()
    return None, 0


_NOT_CONTINUATION = ("SUMMARY", "==", "0x", "Shadow", "HINT", "Address", "AddressSanitizer", "READ ", "WRITE ",
                     "freed by", "previously allocated", "allocated by", "Thread T", "Direct leak", "Indirect leak",
                     "[...")  # a gap marker in a pasted or stored report, not the rest of a frame


def _is_continuation(line: str) -> bool:
    """The rest of a frame line that a terminal or mailer wrapped onto the next line."""
    stripped = line.strip()
    return bool(stripped) and not stripped.endswith(":") and not stripped.startswith(_NOT_CONTINUATION)


def _stacks(text: str) -> list[tuple[str, list[Frame], int]]:
    """Consecutive `#N` frame blocks, each titled by the line before it, with its first frame's number."""
    stacks: list[tuple[str, list[Frame], int]] = []
    title = "crash"
    current: list[Frame] | None = None
    last_line = ""
    for line in text.split("\n"):
        match = _FRAME.match(line)
        if match:
            number = int(match.group("num"))
            if current is None or number == 0 and current:
                current = []
                stacks.append((title, current, number))
            if len(current) >= MAX_FRAMES:
                continue  # a recursion's top is what counts
            current.append(_frame(len(current), match))
            last_line = line.rstrip()
            continue
        if current and last_line and _is_continuation(line):
            joined = _FRAME.match(last_line + line.strip())
            if joined:
                current[-1] = _frame(current[-1].index, joined)
                last_line = last_line + line.strip()
                continue
        last_line = ""
        stripped = line.strip()
        if not stripped:
            continue
        current = None
        title = stripped.rstrip(":")
    for _, frames, _ in stacks:
        _mark_inline(frames)
    return stacks


def _frame(index: int, match: re.Match[str]) -> Frame:
    address = int(match.group("addr"), 16) if match.group("addr") else None
    rest = (match.group("rest") or match.group("bare") or match.group("tsan") or "").strip()
    module = file = None
    line = None
    offset = None
    module_match = _MODULE.search(rest) if rest.endswith(")") and "+0x" in rest else None
    if module_match:
        module = re.split(r"[\\/]", module_match.group("mod").strip())[-1] or None
        offset = int(module_match.group("off"), 16)
        rest = rest[: module_match.start()].strip()
    head, _, last = rest.rpartition(" ")
    location = _LOCATION_TOKEN.fullmatch(last) if head else None
    if location:
        file = location.group("file")
        line = int(location.group("line")) if location.group("line") else None
        rest = head.strip()
    function = None
    if rest:
        _, function, _ = split_symbol(rest, bare_is_module=False)
        function = strip_parameters(function) if function else None
        if function and function.startswith("("):
            function = None
    frame = Frame(index=index, module=module, function=function, file=file, line=line, address=address)
    if function is None:
        frame.offset = offset
        frame.symbols = "none"
    elif "(" not in rest and file is None and module is None:
        frame.cut = True  # `#6 0x55.. in Client::SendNe`: the paste ends inside the name
    return frame


def _mark_inline(frames: list[Frame]) -> None:
    """Frames sharing a PC with the next one were inlined into it."""
    for current, following in zip(frames, frames[1:]):
        if current.address is not None and current.address == following.address:
            current.trust = "inline"
