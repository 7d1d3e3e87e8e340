"""Windows debugger stack lines (`k`, `kb`, `kn`, STACK_TEXT) in their x86 and x64 shapes.

    0915b084 6eefc617 0915b098 6eefc5a0 6eee765b MSHTML!Foo+0x46           x86 kb
    0915b084 6eefc617 MSHTML!Foo+0x46                                       x86 k
    00000000`04deadb8 000007fe`f018f1d9 : args... : MSHTML!Ordinal101+0x3c4da   x64 kb
    00000000`04deadb8 000007fe`f018f1d9 MSHTML!Ordinal101+0x3c4da            x64 k
    00 000000bc`aeaaa440 00007ff8`c045e70d jscript9!Js::Foo+0x7f            kn
    [0x3]   kernel32!WerpReportFault+0xc5   0x459fb6b560   0x7ff8b3e8712c   WinDbg's Stack window, copied
    (Inline Function) --------`-------- mod!Inlined+0x12                     inline
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from crashfix.analysis.models import MAX_FRAMES, Frame
from crashfix.analysis.symbols import normalize_module, split_symbol, strip_parameters

_ADDR = r"[0-9a-fA-F]{8}(?:`[0-9a-fA-F]{8})?|[0-9a-fA-F]{16}"
_FRAME_NO = r"(?:[0-9a-fA-F]{2}\s+)?"
_X64_ARGS = re.compile(rf"^\s*{_FRAME_NO}(?P<sp>{_ADDR})\s+(?P<ret>{_ADDR})\s*:(?P<rest>.*)$")
_PLAIN = re.compile(
    rf"^\s*{_FRAME_NO}(?P<sp>{_ADDR})\s+(?P<ret>{_ADDR})(?:\s+(?:{_ADDR})){{0,4}}\s+(?P<sym>\S.*)$"
)
_INLINE = re.compile(r"^\s*(?:[0-9a-fA-F]{2}\s+)?\(Inline(?: Function)?\)\s+[-`]+\s+(?P<sym>\S.*)$")
# WinDbg's Stack window copied as text: `[0x3]   kernel32!WerpReportFault+0xc5   0x459fb6b560   0x7ff8b3e8712c`
_WINDOW = re.compile(
    r"^\s*\[0x[0-9a-fA-F]+\]\s+(?P<sym>\S+?)(?:\(\))?(?:\s+(?P<sp>0x[0-9a-fA-F]+)(?:\s+(?P<ret>0x[0-9a-fA-F]+))?)?\s*$"
)
_SOURCE = re.compile(r"\s*\[(?P<file>[^\[\]]+?)\s+@\s+(?P<line>\d+)\]\s*$")
_RAW_ADDRESS = re.compile(r"^(?:0x)?(?P<addr>[0-9a-fA-F`]+)$")
HEADER = re.compile(r"^\s*(?:#\s+)?(?:ChildEBP|Child-SP)\s+RetAddr\b", re.MULTILINE)

# A named frame this far into its "function" is an export-relative guess, not a symbol.
EXPORT_OFFSET_THRESHOLD = 0x10000


@dataclass
class StackLine:
    """One parsed stack line before it becomes a `Frame`."""

    symbol: str
    stack_pointer: int | None
    return_address: int | None
    inline: bool = False


def parse_stack_line(line: str) -> StackLine | None:
    """A stack line, or None when the line is something else (a warning, a header)."""
    match = _INLINE.match(line)
    if match:
        return StackLine(match.group("sym").strip(), None, None, inline=True)
    if line.lstrip().startswith("[0x"):
        match = _WINDOW.match(line)
        if match:
            sp, ret = match.group("sp"), match.group("ret")
            return StackLine(match.group("sym"), _hex(sp[2:]) if sp else None, _hex(ret[2:]) if ret else None)
    match = _X64_ARGS.match(line)
    if match:
        rest = match.group("rest")
        symbol = rest.rsplit(" : ", 1)[-1] if " : " in rest else rest.split(":", 1)[-1]
        symbol = symbol.strip()
        if not symbol:
            return None
        return StackLine(symbol, _hex(match.group("sp")), _hex(match.group("ret")))
    match = _PLAIN.match(line)
    if match:
        return StackLine(match.group("sym").strip(), _hex(match.group("sp")), _hex(match.group("ret")))
    return None


def _hex(text: str) -> int:
    return int(text.replace("`", ""), 16)


def symbol_to_frame(index: int, symbol: str, export_modules: frozenset[str] = frozenset()) -> Frame:
    """`mod!Func+0x1f [file @ 12]`, `mod+0x1234` or `0x3d30fc3` as a Frame.

    `export_modules` holds normalised names (see `normalize_module`) of modules the
    debugger had only export symbols for.
    """
    file = line = None
    source = _SOURCE.search(symbol)
    if source:
        file, line = source.group("file").strip(), int(source.group("line"))
        symbol = symbol[: source.start()]
    symbol = symbol.strip()
    raw = _RAW_ADDRESS.match(symbol)
    if raw and ("`" in symbol or symbol.lower().startswith("0x")):
        return Frame(index=index, address=_hex(raw.group("addr")), symbols="none")
    module, function, offset = split_symbol(symbol, bare_is_module=True)
    if function:
        function = strip_parameters(function)
    symbols = "full"
    if not function:
        symbols = "none"
    elif module and (
        normalize_module(module) in export_modules
        or (offset is not None and offset >= EXPORT_OFFSET_THRESHOLD)
        or re.fullmatch(r"Ordinal\d+|_?Z[NKSLT]\w+|DllUnregisterServer|DllGetClassObject", function)
    ):
        symbols = "exports"
    return Frame(
        index=index, module=module, function=function, offset=offset, file=file, line=line,
        symbols=symbols,  # type: ignore[arg-type]
    )


_SYMBOL_LIKE = re.compile(r"^(?:0x[0-9a-fA-F`]+|[\w.$@\-]+!\S|[\w.$@\-]+\+0x[0-9a-fA-F]+$)")


def parse_bare_stack(lines: list[str], export_modules: frozenset[str] = frozenset()) -> list[Frame]:
    """A stack pasted without its header: only lines whose symbol looks like one.

    Disassembly lines (`00007ffc`08cea3c1 0fb67102  movzx esi,...`) have the same two
    leading hex columns, so the symbol column decides.
    """
    kept = []
    for line in lines:
        parsed = parse_stack_line(line)
        if parsed is not None and _SYMBOL_LIKE.match(parsed.symbol):
            kept.append(line)
    return parse_stack(kept, export_modules) if len(kept) >= 2 else []


def parse_stack(lines: list[str], export_modules: frozenset[str] = frozenset()) -> list[Frame]:
    """Frames from consecutive stack lines; warnings mark the frames after them unreliable."""
    frames: list[Frame] = []
    unreliable = False
    previous = ""
    for line in lines:
        if len(frames) >= MAX_FRAMES:
            break  # a deeper stack is a recursion: its top is what is blamed and signed
        if "Following frames may be wrong" in line:
            unreliable = True
            continue
        parsed = parse_stack_line(line)
        if parsed is None:
            # The rest of the previous line, wrapped at a fixed width by a terminal or mailer (once:
            # a run of lines that are not frames must not grow into one quadratic line).
            rejoined = parse_stack_line(previous + line.strip()) if previous and line.strip() else None
            if rejoined is not None and frames:
                replacement = symbol_to_frame(frames[-1].index, rejoined.symbol, export_modules)
                replacement.trust = frames[-1].trust
                frames[-1] = replacement
            previous = ""
            continue
        previous = line.rstrip()
        frame = symbol_to_frame(len(frames), parsed.symbol, export_modules)
        if parsed.stack_pointer == 0 and parsed.return_address == 0 and len(frames) == 0:
            frame.symbols = "none"  # a pseudo frame, e.g. heap_corruption!Mem.exe
        if parsed.inline:
            frame.trust = "inline"
        elif unreliable:
            frame.trust = "unreliable"
        frames.append(frame)
    return frames
