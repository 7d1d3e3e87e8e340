"""Which line ranges to show the model, most important first, once frames are located.

Order: the blamed function (required, cut to a window around the crash when huge); the
frames it called just before crashing (short windows: inlined helpers, accessors), or, when
the stack shows none, the functions called on the crash line; its callers down the stack; a
handler table the blamed function calls through; functions named in related stacks (where
freed memory was freed); when the stack is short, call sites of the blamed function found
by search; the declaration of the blamed method's class; project types named only in
library frames; the classes of the first callers; last, the frames past those limits (deep
callers, further related frames), nearest the crash first, so that every located frame is
shown when the budget allows.
`crashfix.locate.snippets.fit` then applies the budget in this order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from crashfix.analysis.models import Frame
from crashfix.locate.cpp_syntax import FunctionSpan
from crashfix.locate.models import FrameLocation
from crashfix.locate.names import name_components, split_qualified
from crashfix.locate.search import call_site_pieces, dispatch_table_pieces, line_callees, type_pieces
from crashfix.locate.snippets import Piece, SourceFiles, function_pieces
from crashfix.locate.symbol_index import SymbolIndex

BLAMED_WHOLE, BLAMED_WINDOW = 150, 40
"""The blamed function is shown whole up to 150 lines, else 40 lines either side of the crash."""
CALLEE_WHOLE, CALLEE_WINDOW = 30, 10
CALLER_WHOLE, CALLER_WINDOW = 100, 25
RELATED_WHOLE, RELATED_WINDOW = 60, 15
CLASS_WHOLE, CLASS_HEAD, CLASS_WINDOW = 80, 20, 8
MAX_CALLEES, MAX_CALLERS = 3, 12
MAX_RELATED_FRAMES = 4
"""Located frames per related stack (e.g. ASan's "freed by thread T0 here") offered before the class declarations."""
SHORT_STACK = 2
"""With at most this many project frames from the blamed one down, call sites are searched for."""
CALLER_CLASSES = 3
TINY_LINES = 3
"""A blamed function this short (an inline getter, an asserting one-liner) did not make the bad
state: its first caller is shown like the blamed function itself, and kept within the budget."""
_HEADERS = (".h", ".hpp", ".hh", ".hxx", ".inl")

How = Literal["path", "mapping", "suffix", "function-search", "not-found"]


@dataclass
class Found:
    """Where one frame is in the checkout: file, the line that applies there, and its function."""

    frame: Frame
    path: str | None
    how: How
    line: int | None
    span: FunctionSpan | None
    note: str = ""

    def location(self) -> FrameLocation:
        line = self.line if self.line is not None else (self.span.start_line if self.span else None)
        return FrameLocation(frame_index=self.frame.index, function=self.frame.function,
                             original_file=self.frame.file, path=self.path, line=line, how=self.how)

    def label(self) -> str:
        return f"#{self.frame.index} {self.frame.function or (self.span.qualified_name if self.span else '?')}"

    def where(self) -> str:
        searched = ", found by name" if self.how == "function-search" else ""
        return (f", line {self.line}" if self.line is not None else "") + searched + self.note


def plan(found: list[Found], related: list[tuple[str, Found]], blamed: int | None, files: SourceFiles,
         symbols: SymbolIndex, library_frames: list[Frame] | None = None) -> list[Piece]:
    """The pieces to offer the budget, in priority order."""
    located = [f for f in found if f.path is not None]
    primary = next((f for f in located if f.frame.index == blamed), None)
    pieces: list[Piece] = []
    if primary is not None and primary.path is not None:
        crash = f", crash at line {primary.line}" if primary.line is not None else ""
        searched = ", found by name" if primary.how == "function-search" else ""
        reason = f"frame {primary.label()} (blamed{crash}{searched}{primary.note})"
        pieces += function_pieces(primary.path, primary.span, primary.line, whole=BLAMED_WHOLE, window=BLAMED_WINDOW,
                                  reason=reason, frame_index=primary.frame.index, required=True)
    pivot = blamed if blamed is not None else -1
    callees = sorted((f for f in located if f.frame.index < pivot), key=lambda f: -f.frame.index)
    for f in callees[:MAX_CALLEES]:
        pieces += _pieces(f, CALLEE_WHOLE, CALLEE_WINDOW, f"frame {f.label()} (called by the blamed frame{f.where()})")
    if primary is not None and not callees:
        pieces += _line_callee_pieces(primary, files, symbols)
    callers = [f for f in located if f.frame.index > pivot]
    tiny = primary is not None and primary.span is not None and primary.span.line_count <= TINY_LINES
    for position, f in enumerate(callers[:MAX_CALLERS]):
        if position == 0 and tiny and f.path is not None and primary is not None and primary.span is not None:
            reason = (f"frame {f.label()} (caller{f.where()}; the blamed {primary.span.qualified_name} is a "
                      f"{primary.span.line_count}-line helper, so the bad state most likely came from here)")
            pieces += function_pieces(f.path, f.span, f.line, whole=BLAMED_WHOLE, window=BLAMED_WINDOW,
                                      reason=reason, frame_index=f.frame.index, required=True)
            continue
        pieces += _pieces(f, CALLER_WHOLE, CALLER_WINDOW, f"frame {f.label()} (caller{f.where()})")
    if primary is not None and primary.path is not None and primary.span is not None:
        pieces += dispatch_table_pieces(primary.path, primary.span, files, symbols)
    related_first, related_rest = _per_stack(related, MAX_RELATED_FRAMES)
    pieces += _related_pieces(related_first)
    if primary is not None and len(callers) < SHORT_STACK and primary.frame.function:
        pieces += call_site_pieces(primary.frame.function, primary.path, primary.span, files, symbols)
    if primary is not None:
        pieces += class_pieces(primary, files, symbols)
    pieces += type_pieces(library_frames or [], files, symbols)
    for f in callers[:CALLER_CLASSES]:
        pieces += class_pieces(f, files, symbols, head=0, role="calling")
    return pieces + _deeper_pieces(callees[MAX_CALLEES:], callers[MAX_CALLERS:], related_rest)


def _per_stack(related: list[tuple[str, Found]], limit: int) -> tuple[list[tuple[str, Found]], list[tuple[str, Found]]]:
    """The first `limit` located frames of each related stack, and the rest (in order)."""
    seen: dict[str, int] = {}
    first: list[tuple[str, Found]] = []
    rest: list[tuple[str, Found]] = []
    for title, f in related:
        if f.path is None:
            continue
        seen[title] = seen.get(title, 0) + 1
        (first if seen[title] <= limit else rest).append((title, f))
    return first, rest


def _related_pieces(related: list[tuple[str, Found]]) -> list[Piece]:
    pieces: list[Piece] = []
    for title, f in related:
        pieces += [_without_frame(piece) for piece in
                   _pieces(f, RELATED_WHOLE, RELATED_WINDOW, f"{title}: frame {f.label()}{f.where()}")]
    return pieces


def _deeper_pieces(callees: list[Found], callers: list[Found], related: list[tuple[str, Found]]) -> list[Piece]:
    """Frames past the limits above, ranked last rather than dropped: each function once (a deep
    recursion repeats one), callers before the calls above the blamed frame, related stacks last."""
    pieces: list[Piece] = []
    shown: set[tuple[str | None, int | None, int | None]] = set()
    wanted = [*((f, CALLER_WHOLE, CALLER_WINDOW, f"frame {f.label()} (caller{f.where()})") for f in callers),
              *((f, CALLEE_WHOLE, CALLEE_WINDOW, f"frame {f.label()} (called by the blamed frame{f.where()})")
                for f in callees),
              *((f, RELATED_WHOLE, RELATED_WINDOW, f"{title}: frame {f.label()}{f.where()}") for title, f in related)]
    for position, (f, whole, window, reason) in enumerate(wanted):
        key = (f.path, f.span.start_line if f.span else None, None if f.span else f.line)
        if key not in shown:
            shown.add(key)
            new = _pieces(f, whole, window, reason)
            pieces += new if position < len(callers) + len(callees) else [_without_frame(piece) for piece in new]
    return pieces


def _line_callee_pieces(primary: Found, files: SourceFiles, symbols: SymbolIndex) -> list[Piece]:
    """What the crash line calls: the inline getter or helper that ran last, when no frame shows it."""
    if primary.path is None or primary.span is None or primary.line is None or not primary.span.contains(primary.line):
        return []
    pieces: list[Piece] = []
    for name, path, span in line_callees(primary.path, primary.span, primary.line, files, symbols):
        reason = f"{span.qualified_name} (called on the crash line {primary.line} as {name}; found by name)"
        pieces += function_pieces(path, span, None, whole=CALLEE_WHOLE, window=CALLEE_WINDOW, reason=reason)
    return pieces


def _pieces(f: Found, whole: int, window: int, reason: str) -> list[Piece]:
    assert f.path is not None
    return function_pieces(f.path, f.span, f.line, whole=whole, window=window, reason=reason,
                           frame_index=f.frame.index)


def _without_frame(piece: Piece) -> Piece:
    """Related stacks number their frames separately: their index is not the main stack's."""
    piece.frame_index = None
    return piece


def class_pieces(frame: Found, files: SourceFiles, symbols: SymbolIndex, head: int = CLASS_HEAD,
                 role: str = "blamed") -> list[Piece]:
    """The declaration of a frame's method's class: whole when short, else its head and the method's line."""
    method = frame.span
    parts = split_qualified(method.qualified_name) if method else name_components(frame.frame.function or "")
    if len(parts) < 2 or frame.path is None:
        return []
    found = _find_class(parts[:-1], frame.path, files, symbols)
    if found is None:
        return []
    path, span = found
    if path == frame.path and method is not None and span.contains(method.start_line) and (
            span.line_count > CLASS_WHOLE or not head):
        return []  # the method is defined inside a long class: its snippet shows the part that matters
    reason = f"declaration of {span.kind} {span.qualified_name} (the {role} {parts[-1]} is a member)"
    extent = (span.start_line, span.end_line)
    if span.line_count <= CLASS_WHOLE and head:
        return [Piece(path, [extent], reason, function=span.qualified_name, extent=extent)]
    ranges = [(span.start_line, min(span.end_line, span.body_start_line + head))]
    lines = files.lines(path)
    member = re.compile(r"(?<![\w~])" + re.escape(parts[-1]) + r"\s*\(")
    for number in range(span.body_start_line, min(span.end_line, len(lines)) + 1):
        if member.search(lines[number - 1]):
            ranges.append((max(span.start_line, number - CLASS_WINDOW), min(span.end_line, number + CLASS_WINDOW)))
            break
    return [Piece(path, ranges, reason, function=span.qualified_name, extent=extent)]


def _find_class(parts: tuple[str, ...], near: str, files: SourceFiles,
                symbols: SymbolIndex) -> tuple[str, FunctionSpan] | None:
    """The class named `parts`: first in headers named after it or after the frame's file, then anywhere."""
    stems = {parts[-1].lower(), near.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()}
    hits = symbols.definitions("::".join(parts), kinds=("class", "struct", "union"), limit=50)

    def rank(hit: tuple[str, FunctionSpan]) -> tuple[bool, bool, str]:
        path = hit[0]
        named = path.lower().endswith(_HEADERS) and path.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower() in stems
        return (not named, path.rsplit("/", 1)[0] != near.rsplit("/", 1)[0], path)

    return min(hits, key=rank, default=None)
