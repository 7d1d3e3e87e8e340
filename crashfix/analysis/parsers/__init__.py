"""Crash output parsers, one module per format, and the detection that picks one.

A text parser module exposes `FORMAT`, `sniff(text) -> float` (0..1, how sure it is
the text is its format) and `parse(text) -> CrashReport`; the minidump parser takes
bytes (`sniff_bytes`, `parse_bytes`). Parsers raise only `ParseError`.
"""

from __future__ import annotations

from types import ModuleType

from crashfix.analysis.models import SourceFormat
from crashfix.analysis.parsers import assertion, backtrace, breakpad, cdb, gdb, minidump, sanitizer, syslog, wheaty

TEXT_PARSERS: dict[SourceFormat, ModuleType] = {
    SourceFormat.CDB: cdb,
    SourceFormat.WHEATY: wheaty,
    SourceFormat.GDB: gdb,
    SourceFormat.SANITIZER: sanitizer,
    SourceFormat.BREAKPAD: breakpad,
    SourceFormat.BACKTRACE: backtrace,
    SourceFormat.SYSTEM_LOG: syslog,
    SourceFormat.ASSERTION: assertion,
}
BINARY_PARSERS: dict[SourceFormat, ModuleType] = {SourceFormat.MINIDUMP: minidump}

# Below this, a text is "not a crash output we know".
MIN_CONFIDENCE = 0.3


def rank_text_formats(text: str) -> list[tuple[float, SourceFormat]]:
    """Every text format with its confidence, most likely first."""
    scores = [(module.sniff(text), fmt) for fmt, module in TEXT_PARSERS.items()]
    return sorted((s for s in scores if s[0] > 0), key=lambda s: -s[0])
