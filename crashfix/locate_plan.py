"""Which line ranges to show the model, most important first, once frames are located.

Order: the blamed function (required, cut to a window around the crash when huge); the
frames it called just before crashing (short windows: inlined helpers, accessors); its
callers down the stack; functions named in related stacks; the declaration of the blamed
method's class. `crashfix.locate_snippets.fit` then applies the budget in this order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from crashfix.cpp_syntax import FunctionSpan, find_definitions
from crashfix.fix_models import FrameLocation
from crashfix.locate_index import SourceIndex
from crashfix.locate_names import match_score, name_components, split_qualified
from crashfix.locate_snippets import Piece, SourceFiles, function_pieces
from crashfix.models import Frame

BLAMED_WHOLE, BLAMED_WINDOW = 150, 40
"""The blamed function is shown whole up to 150 lines, else 40 lines either side of the crash."""
CALLEE_WHOLE, CALLEE_WINDOW = 30, 10
CALLER_WHOLE, CALLER_WINDOW = 100, 25
RELATED_WHOLE, RELATED_WINDOW = 60, 15
CLASS_WHOLE, CLASS_HEAD, CLASS_WINDOW = 80, 20, 8
MAX_CALLEES, MAX_CALLERS = 3, 12
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
         index: SourceIndex) -> list[Piece]:
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
    callees = sorted((f for f in located if f.frame.index < pivot), key=lambda f: -f.frame.index)[:MAX_CALLEES]
    for f in callees:
        pieces += _pieces(f, CALLEE_WHOLE, CALLEE_WINDOW, f"frame {f.label()} (called by the blamed frame{f.where()})")
    for f in [f for f in located if f.frame.index > pivot][:MAX_CALLERS]:
        pieces += _pieces(f, CALLER_WHOLE, CALLER_WINDOW, f"frame {f.label()} (caller{f.where()})")
    for title, f in related:
        if f.path is not None:
            piece_list = _pieces(f, RELATED_WHOLE, RELATED_WINDOW, f"{title}: frame {f.label()}{f.where()}")
            pieces += [_without_frame(piece) for piece in piece_list]
    if primary is not None:
        pieces += class_pieces(primary, files, index)
    return pieces


def _pieces(f: Found, whole: int, window: int, reason: str) -> list[Piece]:
    assert f.path is not None
    return function_pieces(f.path, f.span, f.line, whole=whole, window=window, reason=reason,
                           frame_index=f.frame.index)


def _without_frame(piece: Piece) -> Piece:
    """Related stacks number their frames separately: their index is not the main stack's."""
    piece.frame_index = None
    return piece


def class_pieces(primary: Found, files: SourceFiles, index: SourceIndex) -> list[Piece]:
    """The declaration of the blamed method's class: whole when short, else its head and the method's line."""
    method = primary.span
    parts = split_qualified(method.qualified_name) if method else name_components(primary.frame.function or "")
    if len(parts) < 2 or primary.path is None:
        return []
    found = _find_class(parts[:-1], primary.path, files, index)
    if found is None:
        return []
    path, span = found
    if path == primary.path and method is not None and span.contains(method.start_line):
        return []  # the method is defined inside the class: the blamed snippet already shows it
    reason = f"declaration of {span.kind} {span.qualified_name} (the blamed {parts[-1]} is a member)"
    extent = (span.start_line, span.end_line)
    if span.line_count <= CLASS_WHOLE:
        return [Piece(path, [extent], reason, function=span.qualified_name, extent=extent)]
    ranges = [(span.start_line, min(span.end_line, span.body_start_line + CLASS_HEAD))]
    lines = files.lines(path)
    member = re.compile(r"(?<![\w~])" + re.escape(parts[-1]) + r"\s*\(")
    for number in range(span.body_start_line, min(span.end_line, len(lines)) + 1):
        if member.search(lines[number - 1]):
            ranges.append((max(span.start_line, number - CLASS_WINDOW), min(span.end_line, number + CLASS_WINDOW)))
            break
    return [Piece(path, ranges, reason, function=span.qualified_name, extent=extent)]


def _find_class(parts: tuple[str, ...], near: str, files: SourceFiles,
                index: SourceIndex) -> tuple[str, FunctionSpan] | None:
    """The class named `parts`: first in headers named after it or after the blamed file, then anywhere."""
    stems = {parts[-1].lower(), near.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()}
    headers = [path for path in index.files
               if path.lower().endswith(_HEADERS) and path.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower() in stems]
    for path in sorted(headers, key=lambda p: (p.rsplit("/", 1)[0] != near.rsplit("/", 1)[0], p)):
        for span in files.spans(path).classes:
            if match_score(split_qualified(span.qualified_name), parts):
                return path, span
    hits = find_definitions(index.root, "::".join(parts), limit=1, kinds={"class", "struct", "union"})
    return hits[0] if hits else None
