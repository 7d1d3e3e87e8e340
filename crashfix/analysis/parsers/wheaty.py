"""TrinityCore / AzerothCore crash logs written by WheatyExceptionReport (`Crashes/*.txt`).

The first `Call stack:` block is the crashing thread (no thread ids are ever printed);
later blocks are other threads, then everything again with local variables. Frame
lines are `PC  FRAME  Function+DISP  file line N` or `PC  FRAME  SSSS:OFFSET module`.
Logs arrive cut anywhere; the `Fault address:` line then still names the faulting
module and offset, and an `Assertion message:` still names the assertion site.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from crashfix.analysis.blame import is_idle_stack
from crashfix.analysis.build_banner import build_from_line
from crashfix.analysis.crash_codes import describe_ntstatus, normalize_code
from crashfix.analysis.models import (
    MAX_FRAMES,
    BuildInfo,
    CrashReport,
    ExceptionInfo,
    Frame,
    SourceFormat,
    replace_index,
)
from crashfix.analysis.parsers.assertion import assertion_frame, find_assertion
from crashfix.analysis.parsers.sniffing import marker, score
from crashfix.analysis.symbols import split_symbol, strip_parameters
from crashfix.errors import ParseError

FORMAT = SourceFormat.WHEATY
MAX_BLOCKS = 64  # threads read when looking for the one that holds the fault address


_HEX = r"[0-9A-Fa-f]"
_FRAME = re.compile(
    rf"^\s*(?P<pc>{_HEX}{{8}}|{_HEX}{{16}})(?:\s+(?P<fp>{_HEX}{{8}}|{_HEX}{{16}}))?(?:\s+(?P<rest>\S.*))?$"
)
_SYMBOLIZED = re.compile(  # the file may be cut short, before its `line N`
    rf"^(?P<fn>.*?)\+(?P<disp>{_HEX}+)(?:\s+(?P<file>\S.*?)(?: line (?P<line>\d+))?)?\s*$"
)
_UNSYMBOLIZED = re.compile(rf"^(?P<sec>{_HEX}{{2,8}}):(?P<off>{_HEX}+)(?:\s+(?P<mod>.*))?$")
_FAULT = re.compile(
    rf"^Fault address:\s+(?P<addr>{_HEX}+)\s+(?P<sec>{_HEX}+):(?P<off>{_HEX}+)\s*(?P<mod>.*?)\s*"
    rf"(?:\n(?P<wrapped>[^\s:][^:\n]*\.(?:exe|dll))\s*)?$",  # a path wrapped onto the next line
    re.M,
)
# A frame line no other tool writes: `PC  FRAME  Func+DISP  file line N` or `PC  FRAME  SSSS:OFFSET module.exe`.
_HEADERLESS_FRAME = re.compile(
    rf"^\s*{_HEX}{{8,16}}\s+{_HEX}{{8,16}}\s+"
    rf"(?:\S+\+{_HEX}+\s+\S.*\sline \d+|{_HEX}{{4}}:{_HEX}{{8,16}}\s+\S+\.(?:exe|dll))\s*$"
)
_NOISE = re.compile(r"^punting on symbol\b|partial output:$", re.IGNORECASE)
_EXCEPTION = re.compile(rf"^\s*Exception code:\s*(?P<code>{_HEX}{{8}})\s*(?P<name>.*?)\s*$", re.M)
_REVISION = re.compile(r"^\s*Revision:\s*(?P<text>.+?)\s*$", re.M)
_OS = re.compile(r"\*+\s*Operation System\s*\**:?\s*\n(?P<os>[^\n]*)")
_MARKERS = (
    marker("Exception code:", 0.35, r"^\s*Exception code:\s*[0-9A-Fa-f]{8}"),
    marker("Fault address:", 0.35, r"^Fault address:\s+[0-9A-Fa-f]+"),
    marker("Call stack:", 0.25, r"^Call stack:\s*$"),
    marker("SourceFile", 0.5, r"^Address\s+Frame\s+Function\s+SourceFile"),
    marker("Hardware ***", 0.2),
    marker("Number Of Processors:", 0.1),
    marker("Revision:", 0.2, r"^\s*Revision:.*\brev\."),
    marker(" line ", 0.35, r"^\s*[0-9A-Fa-f]{8,16}\s+[0-9A-Fa-f]{8,16}\s+\S+\+[0-9A-Fa-f]+\s+\S.*\sline \d+\s*$"),
)


def sniff(text: str) -> float:
    return score(text[:100_000], _MARKERS)


def parse(text: str) -> CrashReport:
    report = CrashReport(format=FORMAT, os="windows")
    report.exception = _exception(text)
    report.build = _build(text)
    os_match = _OS.search(text)
    if os_match and os_match.group("os").strip():
        report.facts["os_version"] = os_match.group("os").strip()
    build_type = report.build.build_type if report.build else None
    if build_type:
        report.arch = "x64" if "Win64" in build_type else "x86" if "Win32" in build_type else None
    report.assertion = find_assertion(text) if "Assertion message" in text or "ASSERTION FAILED" in text else None
    fault = _fault(text)
    frames, cut = _crash_stack(text, fault)
    frames, dropped = _drop_cut_frames(frames, fault)
    cut = cut or dropped
    frames = _reconcile_with_fault(frames, fault)
    site = assertion_frame(report.assertion) if report.assertion is not None else None
    if site is not None and not any(f.function and f.address != (fault.address if fault else None) for f in frames):
        # No stack of the asserting thread (only the fault address inside the assert handler,
        # or nothing): the assertion message names the site.
        frames = [site, *(replace_index(f, i + 1) for i, f in enumerate(frames))]
    report.frames = frames
    if fault and fault.path:
        report.faulting_module = re.split(r"[\\/]", fault.path)[-1]
        report.process = report.faulting_module
    if cut or "Error writing the crash log" in text:
        report.warn("truncated", "the crash log is cut short; its call stack is incomplete")
    if not any(f.function for f in frames) and frames:
        report.warn("missing-symbols", "no PDB was found when the log was written: frames are module offsets")
    if report.exception is None and not frames:
        if any(is_idle_stack(block) for block, _ in _stack_blocks(text.split("\n"))):
            raise ParseError("the crash log shows only threads that were waiting, not the one that crashed",
                             hint="paste the first 'Call stack:' block of the log, under 'Fault address:'")
        raise ParseError("crash log without an exception code or a call stack")
    return report


class Fault(NamedTuple):
    """The `Fault address:` line: where the exception happened, even if the stack is lost."""

    address: int
    section: int
    offset: int
    path: str


def _fault(text: str) -> Fault | None:
    match = _FAULT.search(text)
    if match is None:
        return None
    path = match.group("mod") + (match.group("wrapped") or "")
    return Fault(int(match.group("addr"), 16), int(match.group("sec"), 16), int(match.group("off"), 16), path)


def _exception(text: str) -> ExceptionInfo | None:
    match = _EXCEPTION.search(text)
    if not match:
        return None
    code = normalize_code(match.group("code"))
    name, crash_class = describe_ntstatus(code)
    return ExceptionInfo(code=code, name=name or match.group("name") or None, crash_class=crash_class)


def _build(text: str) -> BuildInfo | None:
    match = _REVISION.search(text)
    return build_from_line(match.group("text")) if match else None


def _crash_stack(text: str, fault: Fault | None) -> tuple[list[Frame], bool]:
    """The crashing thread's frames, and whether its block was cut.

    WheatyExceptionReport writes the faulting thread first, but pastes start anywhere:
    the crashing block is the one holding the fault address. When the address is known
    and no block holds it, the blocks shown are other threads; without it, a first block
    that is only an idle thread's wait is not the crash either.
    """
    lines = text.split("\n")
    blocks = _stack_blocks(lines)
    if not blocks:
        return [], True
    if fault is not None and fault.address and fault.section <= 0xFFFF:  # not the logger's garbage
        for frames, cut in blocks:
            if any(f.address == fault.address for f in frames):
                return frames, cut
        if _gap_before_first_block(lines):
            return [], blocks[0][1]  # the paste lost the crashing block: what is left are other threads
    frames, cut = blocks[0]
    if is_idle_stack(frames):
        return [], cut
    return frames, cut


def _gap_before_first_block(lines: list[str]) -> bool:
    """A `[... cut ...]` line between the fault address and the first `Call stack:` header."""
    fault_at = next((i for i, line in enumerate(lines) if line.startswith("Fault address:")), -1)
    for line in lines[fault_at + 1 :]:
        stripped = line.strip()
        if stripped == "Call stack:":
            return False
        if stripped.startswith(("[...", "[…")):
            return True
    return False


def _stack_blocks(lines: list[str]) -> list[tuple[list[Frame], bool]]:
    """Every `Call stack:` block's frames (the first few), each with whether it was cut.

    A log that lost its headers (a server log's `Log Crash:` followed by a frame line) still
    has frame lines only this logger writes: they form the block.
    """
    starts = [i for i, line in enumerate(lines) if line.strip() == "Call stack:"]
    if not starts:
        first = next((i for i, line in enumerate(lines) if _HEADERLESS_FRAME.match(line)), None)
        return [] if first is None else [_read_block(lines, first - 1)]
    return [_read_block(lines, start) for start in starts[:MAX_BLOCKS]]


def _read_block(lines: list[str], start: int) -> tuple[list[Frame], bool]:
    frames: list[Frame] = []
    cut = False
    last_line = ""
    number = start
    while True:
        number += 1
        if number >= len(lines):
            return frames, True
        line = lines[number]
        stripped = line.strip()
        if stripped.startswith("Address") and "Frame" in stripped:
            continue
        if stripped in ("Call stack:",) or stripped.startswith(("====", "Local Variables", "Global Variables")):
            break
        if not stripped:
            if frames and not _frame_follows(lines, number):
                break  # an empty line ends the block, unless the log puts one after every frame
            continue
        if stripped.startswith("[") or line.startswith("\t"):
            cut = cut or stripped.startswith(("[...", "[…"))  # a gap in the paste: frames were lost
            continue  # a gap marker or a variable line
        if _NOISE.match(stripped):
            continue  # the logger's own remark between frames (a local it could not print)
        frame = _parse_frame(len(frames), stripped)
        if frame is None and frames and last_line:
            # The rest of the previous frame line, wrapped by a terminal or mailer.
            last_line += stripped
            frames[-1] = _parse_frame(frames[-1].index, last_line) or frames[-1]
            continue
        if frame is None:
            break
        last_line = stripped
        if frame.function is None and frame.module is None and frame.section is None:
            cut = True
        frames.append(frame)
        if len(frames) >= MAX_FRAMES:
            break
    if frames and frames[-1].function is not None and frames[-1].offset is None:
        cut = True  # `ScriptMgr::OnConfigLo`: a symbol cut mid-name
        frames[-1].cut = True
    return frames, cut


def _frame_follows(lines: list[str], blank: int) -> bool:
    """Whether the next non-empty line after `blank` is another frame line of the same block."""
    for line in lines[blank + 1 : blank + 4]:
        if line.strip():
            return _FRAME.match(line.strip()) is not None and _parse_frame(0, line.strip()) is not None
    return False


def _parse_frame(index: int, line: str) -> Frame | None:
    match = _FRAME.match(line)
    if not match:
        return None
    address = int(match.group("pc"), 16)
    rest = (match.group("rest") or "").strip()
    inline = rest.startswith("[inline] ")
    if inline:
        rest = rest[len("[inline] ") :]
    symbolized = _SYMBOLIZED.match(rest)
    if symbolized and not _UNSYMBOLIZED.match(rest):
        _, function, _ = split_symbol(symbolized.group("fn") + "+" + symbolized.group("disp"), bare_is_module=False)
        return Frame(
            index=index, function=strip_parameters(function or symbolized.group("fn")),
            offset=int(symbolized.group("disp"), 16), address=address,
            file=symbolized.group("file"), line=int(symbolized.group("line")) if symbolized.group("line") else None,
            trust="inline" if inline else None,
        )
    unsymbolized = _UNSYMBOLIZED.match(rest)
    if unsymbolized and unsymbolized.group("mod"):
        module = re.split(r"[\\/]", unsymbolized.group("mod").strip())[-1]
        return Frame(
            index=index, module=module or None, section=int(unsymbolized.group("sec"), 16),
            offset=int(unsymbolized.group("off"), 16), address=address, symbols="none",
        )
    if rest and not unsymbolized:
        # A symbol cut mid-name (`ScriptMgr::OnConfigLo`): keep what is there.
        return Frame(index=index, function=strip_parameters(rest), address=address)
    return Frame(index=index, address=address, symbols="none")


_MODULE_FILE = re.compile(r"\.(?:exe|dll|sys|ocx|so(?:\.\d+)*)$", re.IGNORECASE)


def _drop_cut_frames(frames: list[Frame], fault: Fault | None) -> tuple[list[Frame], bool]:
    """The last frame line of a cut paste holds a partial path or just an address."""
    if not frames:
        return frames, False
    last = frames[-1]
    if last.function is None and last.module is None and last.section is None and len(frames) > 1:
        return frames[:-1], True
    if last.module is not None and not _MODULE_FILE.search(last.module):
        fault_path = fault.path.strip() if fault else ""
        partial = last.module
        if fault_path and re.split(r"[\\/]", fault_path)[-1].startswith(partial):
            last.module = re.split(r"[\\/]", fault_path)[-1]
            return frames, True
        return frames[:-1], True
    return frames, False


def _reconcile_with_fault(frames: list[Frame], fault: Fault | None) -> list[Frame]:
    """Make frame 0 agree with `Fault address:` when the first frame line is cut or missing."""
    if fault is None:
        return frames
    address, section, offset, path = fault
    module = re.split(r"[\\/]", path.strip())[-1] or None
    if section > 0xFFFF or module is None:
        return frames  # garbage section:offset when the logger's lookup failed
    fault_frame = Frame(index=0, module=module, section=section, offset=offset, address=address,
                        symbols="none", trust="context")
    if not frames:
        return [fault_frame]
    first = frames[0]
    if first.address == address and first.function is None and (first.section is None or first.module is None):
        frames[0] = fault_frame
    return frames
