"""Stacks printed by the program or an IDE rather than a debugger.

- glibc `backtrace_symbols()` from a server's own signal handler:
  `./mangosd(_ZN13ThreatManager19modifyThreatPercentEP4Uniti+0x1e) [0xa2732e]`
  (mangled names are demangled; the libc signal trampoline separates the handler's
  own frames from the crash);
- the Visual Studio "Call Stack" window copied as text:
  `>	mangosd.exe!Object::GetTypeId() Line 345	C++` (the word "Line" is localised);
- a server's own stack dump on Windows (ACE_Stack_Trace and StackWalk64 loops):
  `ACE_OS_Thread_Adapter::invoke()+0xa1 [0x7ff6...]` and unresolved `[0x22afa]` lines;
- cpptrace (`#3 [0x7FF6A1B2C3D4] Map::Update(unsigned int) src/Map.cpp:412`, vmangos) and
  Boost.Stacktrace (` 3# Map::Update(unsigned int) at /src/Map.cpp:412`).
An assertion message printed above the stack names the site when the stack shows only runtime frames.
"""

from __future__ import annotations

import re

from crashfix.analysis.crash_codes import describe_signal
from crashfix.analysis.models import MAX_FRAMES, CrashReport, ExceptionInfo, Frame, SourceFormat
from crashfix.analysis.parsers.assertion import find_assertion
from crashfix.analysis.symbols import demangle, strip_parameters
from crashfix.errors import ParseError

FORMAT = SourceFormat.BACKTRACE

_GLIBC = re.compile(
    r"^(?:\s*(?:#?\d+(?:/\d+)?[:.]?\s+|\[bt\]\s*))?(?P<obj>[^\s(\[]+)"
    r"(?:\((?P<sym>[^)+]*)?(?:\+(?P<off>0x[0-9a-fA-F]+))?\))?\s?\[(?P<addr>0x[0-9a-fA-F]+)\]\s*$"
)
_LINE_WORDS = r"(?:Line|line|行|Zeile|Ligne|Línea|Linha|Riga|Строка|줄|Wiersz|Satır|Řádek)"
_VS = re.compile(
    rf"^\s*>?\s*(?P<mod>[\w.\-]+\.(?:exe|dll|sys|ocx))!(?P<func>.+?)"
    rf"(?:\s+{_LINE_WORDS}\s+(?P<line>\d+))?(?:\s+(?:C\+\+|C|Unknown|Native|Assembly|Nieznany|Unbekannt|不明))?\s*$"
)
# A server's own Windows stack dump (ACE_Stack_Trace, StackWalk64 loops): `Func()+0xa1 [0x7ff6...]`, raw `[0x22afa]`.
_SELF = re.compile(
    r"^\s*(?:(?P<mod>[\w.\-]+)!)?(?P<func>[A-Za-z_~][^\[\]]*?)\s*\+\s*(?P<off>0x[0-9a-fA-F]+)\s*\[(?P<addr>0x[0-9a-fA-F]+)\]\s*$"
)
_RAW = re.compile(r"^\s*\[(?P<addr>0x[0-9a-fA-F]+)\]\s*$")
# cpptrace as vmangos logs it: `#3 [0x7FF6A1B2C3D4] Map::Update(unsigned int) src/game/Map.cpp:412`
_CPPTRACE = re.compile(
    r"^\s*#(?P<num>\d+) \[0x(?P<addr>[0-9a-fA-F]+)\] (?P<func>.*?)(?: (?P<file>\S+):(?P<line>\d+))?\s*$"
)
# Boost.Stacktrace: ` 3# Map::Update(unsigned int) at /src/game/Map.cpp:412` or ` 4# 0x7f.. in /lib/libc.so.6`
_BOOST = re.compile(
    r"^\s*(?P<num>\d+)# (?P<func>.*?)(?: at (?P<file>\S+):(?P<line>\d+)| in (?P<obj>\S+))?\s*$"
)
_SIGNAL = re.compile(r"\b(?:Received|Caught|received|caught)?\s*(?:signal\s+)?(?P<sig>SIG[A-Z]{3,6}|(?<=signal )\d+)\b")


_FORMS = (("glibc", _GLIBC), ("self", _SELF), ("cpptrace", _CPPTRACE))


def sniff(text: str) -> float:
    head = text[:50_000]
    if "[0x" in head:
        lines = [line for line in head.split("\n") if "[0x" in line]
        for _, pattern in _FORMS:
            if sum(1 for line in lines if pattern.match(line)) >= 2:
                return 0.6
    if "# " in head:
        lines = [line for line in head.split("\n") if "# " in line]
        if sum(1 for line in lines if _BOOST.match(line)) >= 2:
            return 0.5
    if ".exe!" in head or ".dll!" in head:
        lines = [line for line in head.split("\n") if "!" in line and "(" in line]
        if sum(1 for line in lines if _VS.match(line)) >= 2:
            return 0.6
    return 0.0


def parse(text: str) -> CrashReport:
    lines = text.split("\n")
    glibc = [m for m in (_GLIBC.match(line) for line in lines) if m]
    visual = [m for m in (_VS.match(line) for line in lines) if m and "(" in m.group(0)]
    own = _own_frames(lines)
    report = CrashReport(format=FORMAT)
    best = max(len(glibc), len(visual), len(own))
    if glibc and len(glibc) == best:
        report.os = "linux"
        report.frames = _glibc_frames(glibc)
    elif visual and len(visual) == best:
        report.os = "windows"
        report.frames = _visual_frames(visual)
    elif own:
        report.frames = own
    else:
        raise ParseError("no backtrace lines found (expected 'prog(func+0x1e) [0x...]' or 'mod.exe!Func() Line 12')")
    report.assertion = find_assertion(text) if "ssert" in text or "ASSERT" in text else None
    signal = _SIGNAL.search(text)
    if signal:
        value = signal.group("sig")
        name, description, crash_class = describe_signal(int(value) if value.isdigit() else value)
        report.exception = ExceptionInfo(code=name, name=description, crash_class=crash_class)
    if report.frames and report.frames[0].module:
        report.process = report.frames[0].module
    return report


def _glibc_frames(matches: list[re.Match[str]]) -> list[Frame]:
    frames: list[Frame] = []
    for match in matches[:MAX_FRAMES]:
        module = match.group("obj").rsplit("/", 1)[-1]
        symbol = match.group("sym") or ""
        offset = int(match.group("off"), 16) if match.group("off") else None
        function = strip_parameters(demangle(symbol)) if symbol else None
        frame = Frame(index=len(frames), module=module, function=function, offset=offset,
                      address=int(match.group("addr"), 16), symbols="full" if function else "none")
        frames.append(frame)
    _mark_trampoline(frames)
    return frames


def _mark_trampoline(frames: list[Frame]) -> None:
    """An unnamed libc frame right below the handler's own frames is the signal trampoline.

    It sits within the first few frames; an unnamed libc frame near the bottom is
    thread start-up, not a trampoline.
    """
    for frame in frames[: min(4, len(frames) - 2)]:
        module = (frame.module or "").lower()
        if frame.function in (None, "__restore_rt", "killpg") and module.startswith(("libc.so", "libc-", "libpthread")):
            if frame.index > 0:
                frame.function = "<signal handler called>"
                frame.symbols = "full"
            return


def _own_frames(lines: list[str]) -> list[Frame]:
    """Stacks a server printed itself on Windows (ACE), through cpptrace or Boost.Stacktrace.

    The longest run of consecutive frame lines (blank lines allowed) is the stack; other log
    output around it is not part of it.
    """
    best: list[Frame] = []
    run: list[Frame] = []
    for line in lines:
        frame = _own_frame(len(run), line) if len(run) < MAX_FRAMES else None
        if frame is not None:
            run.append(frame)
        elif line.strip():
            best, run = (run if len(run) > len(best) else best), []
    best = run if len(run) > len(best) else best
    return best if len(best) >= 2 else []


def _own_frame(index: int, line: str) -> Frame | None:
    match = _SELF.match(line)
    if match:
        function = _repaired(match.group("func"))
        return Frame(index=index, module=match.group("mod"), function=function or None,
                     offset=int(match.group("off"), 16), address=int(match.group("addr"), 16) or None,
                     symbols="full" if function else "none")
    match = _RAW.match(line)
    if match:
        return Frame(index=index, address=int(match.group("addr"), 16), symbols="none")
    found = _CPPTRACE.match(line) or _BOOST.match(line)
    if found:
        match = found
        raw = match.group("func").strip()
        unnamed = not raw or raw.startswith("0x") or raw in ("??", "<unknown>")
        named: str | None = None if unnamed else strip_parameters(demangle(raw))
        groups = match.groupdict()
        module = (groups.get("obj") or "").rsplit("/", 1)[-1] or None
        address = int(groups["addr"], 16) if groups.get("addr") else None
        return Frame(index=index, function=named, file=match.group("file"),
                     line=int(match.group("line")) if match.group("line") else None, module=module, address=address,
                     symbols="full" if named else "none")
    return None


def _repaired(name: str) -> str:
    """`BaseThreadInitThunk(() ` (a retyped paste): the name before its unbalanced parameter list."""
    name = name.strip()
    if name.count("(") != name.count(")"):
        name = name.split("(", 1)[0]
    return strip_parameters(name)


def _visual_frames(matches: list[re.Match[str]]) -> list[Frame]:
    frames: list[Frame] = []
    for match in matches[:MAX_FRAMES]:
        frames.append(Frame(
            index=len(frames), module=match.group("mod"), function=strip_parameters(match.group("func")),
            line=int(match.group("line")) if match.group("line") else None,
        ))
    return frames
