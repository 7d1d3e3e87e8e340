"""Stacks printed by the program or an IDE rather than a debugger.

- glibc `backtrace_symbols()` from a server's own signal handler:
  `./mangosd(_ZN13ThreatManager19modifyThreatPercentEP4Uniti+0x1e) [0xa2732e]`
  (mangled names are demangled; the libc signal trampoline separates the handler's
  own frames from the crash);
- the Visual Studio "Call Stack" window copied as text:
  `>	mangosd.exe!Object::GetTypeId() Line 345	C++` (the word "Line" is localised).
"""

from __future__ import annotations

import re

from crashfix.analysis.crash_codes import describe_signal
from crashfix.analysis.models import CrashReport, ExceptionInfo, Frame, SourceFormat
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
_SIGNAL = re.compile(r"\b(?:Received|Caught|received|caught)?\s*(?:signal\s+)?(?P<sig>SIG[A-Z]{3,6}|(?<=signal )\d+)\b")


def sniff(text: str) -> float:
    head = text[:50_000]
    if "[0x" in head:
        lines = [line for line in head.split("\n") if "[0x" in line]
        if sum(1 for line in lines if _GLIBC.match(line)) >= 2:
            return 0.6
    if ".exe!" in head or ".dll!" in head:
        lines = [line for line in head.split("\n") if "!" in line and "(" in line]
        if sum(1 for line in lines if _VS.match(line)) >= 2:
            return 0.6
    return 0.0


def parse(text: str) -> CrashReport:
    lines = text.split("\n")
    glibc = [m for m in (_GLIBC.match(line) for line in lines) if m]
    visual = [m for m in (_VS.match(line) for line in lines) if m and "(" in m.group(0)]
    report = CrashReport(format=FORMAT)
    if len(glibc) >= len(visual) and glibc:
        report.os = "linux"
        report.frames = _glibc_frames(glibc)
    elif visual:
        report.os = "windows"
        report.frames = _visual_frames(visual)
    else:
        raise ParseError("no backtrace lines found (expected 'prog(func+0x1e) [0x...]' or 'mod.exe!Func() Line 12')")
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
    for match in matches:
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


def _visual_frames(matches: list[re.Match[str]]) -> list[Frame]:
    frames: list[Frame] = []
    for match in matches:
        frames.append(Frame(
            index=len(frames), module=match.group("mod"), function=strip_parameters(match.group("func")),
            line=int(match.group("line")) if match.group("line") else None,
        ))
    return frames
