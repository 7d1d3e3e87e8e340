"""Turning located frames into snippets of source text that fit a token budget.

A snippet is the exact text of a range of lines, so the model can copy from it into an
exact-replace edit. Ranges are chosen in priority order (the blamed function first) and
added greedily: what does not fit is named in `dropped`, smaller later ones may still fit,
and ranges of the same file that overlap or touch are merged into one snippet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crashfix.locate.cpp_syntax import FileSpans, FunctionSpan, file_spans
from crashfix.locate.models import Snippet

if TYPE_CHECKING:
    from crashfix.locate.symbol_index import SymbolIndex

CHARS_PER_TOKEN = 3.5
MAX_LINE_CHARS = 2000
"""Longer lines (generated tables, a file with old Mac line ends read as one line) are cut in snippets."""


def _cut(line: str) -> str:
    if len(line) <= MAX_LINE_CHARS:
        return line
    return line[:MAX_LINE_CHARS] + f" [... {len(line) - MAX_LINE_CHARS} more characters on this line not shown]"


def estimate_tokens(text: str) -> int:
    """The budget's unit: about 3.5 characters per token for code."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


class SourceFiles:
    """Repository files read once each: their lines as text and their function spans.

    Lines are split on LF only (as tree-sitter counts them); a CR before it and a leading
    BOM are dropped from the text; bytes that are not UTF-8 are read as Latin-1; a line
    longer than `MAX_LINE_CHARS` is cut, with a note, so one line cannot eat the budget.
    """

    def __init__(self, root: Path, symbols: SymbolIndex | None = None) -> None:
        self.root = root
        self.symbols = symbols
        self._lines: dict[str, list[str]] = {}

    def data(self, relative: str) -> bytes:
        """The file's raw bytes (not kept: a search reads every file once)."""
        try:
            return (self.root / relative).read_bytes()
        except OSError:
            return b""

    def lines(self, relative: str) -> list[str]:
        if relative not in self._lines:
            try:
                data = (self.root / relative).read_bytes()
            except OSError:
                data = b""
            data = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = data.decode("latin-1")
            lines = text.split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            self._lines[relative] = [_cut(line[:-1] if line.endswith("\r") else line) for line in lines]
        return self._lines[relative]

    def spans(self, relative: str) -> FileSpans:
        """From the symbol index when the file is in it, else parsed now."""
        indexed = self.symbols.file_spans(relative) if self.symbols is not None else None
        return indexed or file_spans(self.root / relative) or FileSpans((), ())

    def text(self, relative: str, start: int, end: int) -> str:
        return "\n".join(self.lines(relative)[start - 1 : end])


@dataclass
class Piece:
    """Line ranges of one file wanted in the context (all or none), before the budget decides.

    `extent` is the whole function's or class's lines, so a snippet showing part of it can say
    so; `focus` is the line to keep when a required piece must be cut down.
    """

    path: str
    ranges: list[tuple[int, int]]
    reason: str
    frame_index: int | None = None
    function: str | None = None
    required: bool = False
    focus: int | None = None
    extent: tuple[int, int] | None = None


def function_pieces(path: str, span: FunctionSpan | None, line: int | None, *, whole: int, window: int,
                    reason: str, frame_index: int | None = None, required: bool = False) -> list[Piece]:
    """A function whole when it has at most `whole` lines, else its signature plus a window around `line`.

    Without a span (the parser found no function there) it is the window alone; without a
    line, the window follows the signature.
    """
    if span is None:
        if line is None:
            return []
        return [Piece(path, [(max(1, line - window), line + window)], reason, frame_index, None, required, line)]
    extent = (span.start_line, span.end_line)
    if span.line_count <= whole:
        return [Piece(path, [extent], reason, frame_index, span.qualified_name, required, line, extent)]
    focus = line if line is not None and span.contains(line) else span.body_start_line + window
    ranges = [(span.start_line, span.body_start_line),
              (max(span.body_start_line, focus - window), min(span.end_line, focus + window))]
    return [Piece(path, ranges, reason, frame_index, span.qualified_name, required, focus, extent)]


@dataclass
class _Chosen:
    path: str
    start: int
    end: int
    reasons: list[str]
    extents: set[tuple[int, int] | None]
    frame_index: int | None
    function: str | None
    order: int
    tokens: int


def fit(pieces: list[Piece], files: SourceFiles, budget: int) -> tuple[list[Snippet], list[str], int]:
    """Snippets within `budget` tokens in priority order, the reasons of those left out, and the tokens used.

    A required piece (the blamed function) is never left out: when it does not fit it is cut
    down to the lines around its focus that do.
    """
    chosen: list[_Chosen] = []
    dropped: list[str] = []
    for order, piece in enumerate(pieces):
        trial = chosen
        for start, end in piece.ranges:
            trial = _add(trial, files, piece, order, start, end)
        if sum(c.tokens for c in trial) <= budget:
            chosen = trial
        elif piece.required:
            chosen = _add(chosen, files, piece, order, *_shrink(files, piece, budget - sum(c.tokens for c in chosen)))
        else:
            dropped.append(piece.reason)
    chosen.sort(key=lambda c: c.order)
    return [_snippet(c, files) for c in chosen], dropped, sum(c.tokens for c in chosen)


def _add(chosen: list[_Chosen], files: SourceFiles, piece: Piece, order: int, start: int, end: int) -> list[_Chosen]:
    """`chosen` with start..end of the piece's file added, merged with the ranges it overlaps or touches."""
    end = min(end, len(files.lines(piece.path)))
    if end < start:
        return chosen
    touching = [c for c in chosen if c.path == piece.path and start <= c.end + 1 and c.start <= end + 1]
    start, end = min([start, *(c.start for c in touching)]), max([end, *(c.end for c in touching)])
    first = min(touching, key=lambda c: c.order, default=None)
    reasons = [reason for c in sorted(touching, key=lambda c: c.order) for reason in c.reasons]
    merged = _Chosen(
        piece.path, start, end, reasons + ([piece.reason] if piece.reason not in reasons else []),
        {piece.extent}.union(*(c.extents for c in touching)),
        first.frame_index if first else piece.frame_index, first.function if first else piece.function,
        first.order if first else order, estimate_tokens(files.text(piece.path, start, end)),
    )
    return [c for c in chosen if c not in touching] + [merged]


def _snippet(chosen: _Chosen, files: SourceFiles) -> Snippet:
    """The snippet's reason says which part of its function it shows when it is not all of it."""
    reason = "; ".join(chosen.reasons)
    extent = next(iter(chosen.extents)) if len(chosen.extents) == 1 else None
    if extent is not None and (chosen.start > extent[0] or chosen.end < extent[1]):
        reason += f" [lines {chosen.start}-{chosen.end} of {extent[0]}-{extent[1]}]"
    return Snippet(path=chosen.path, start_line=chosen.start, end_line=chosen.end,
                   text=files.text(chosen.path, chosen.start, chosen.end), reason=reason,
                   frame_index=chosen.frame_index, function=chosen.function)


def _shrink(files: SourceFiles, piece: Piece, room: int) -> tuple[int, int]:
    """The widest window around the piece's focus line that fits in `room` tokens (at least that line)."""
    lines = files.lines(piece.path)
    low, high = piece.ranges[0][0], min(max(end for _, end in piece.ranges), len(lines))
    focus = min(max(piece.focus or low, low), high)
    start = end = focus
    size = len(lines[focus - 1]) if lines else 0
    budget_chars = max(0, room) * CHARS_PER_TOKEN
    grew = True
    while grew:
        grew = False
        for step in (-1, 1):
            candidate = start - 1 if step < 0 else end + 1
            if not low <= candidate <= high:
                continue
            extra = len(lines[candidate - 1]) + 1
            if size + extra <= budget_chars:
                size += extra
                start, end = (candidate, end) if step < 0 else (start, candidate)
                grew = True
    return start, end
