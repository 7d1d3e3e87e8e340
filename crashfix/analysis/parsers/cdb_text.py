"""The layout of CDB / WinDbg `!analyze -v` output: sections, key/value pairs, events.

Three generations are read the same way:
- classic (FAULTING_IP, EXCEPTION_RECORD, STACK_TEXT with ChildEBP/Child-SP columns);
- the verbose 2017-18 one (DUMP_CLASS, WATSON_BKT_*, PROBLEM_CLASSES, BUCKET_ID_* fields);
- the KEY_VALUES_STRING one (`Key  : Failure.Bucket` / `Value: ...` pairs, no FAULTING_IP).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_SECTION = re.compile(r"^([A-Z][A-Z0-9_]{2,})(?::[ \t]*(.*)|[ \t]*:[ \t]*(.*))$")
_NOT_SECTIONS = {"WARNING", "ERROR", "NOTE", "TIP", "CONTEXT_", "FAILED"}
_KEY = re.compile(r"^\s*Key\s*:\s*(\S.*?)\s*$")
_VALUE = re.compile(r"^\s*Value\s*:\s*(.*?)\s*$")
EVENT = re.compile(
    r"^\((?P<pid>[0-9a-fA-F]+)\.(?P<tid>[0-9a-fA-F]+)\):\s+(?P<desc>.+?)\s+-\s+code\s+"
    r"(?P<code>[0-9a-fA-F]{8})\s+\((?P<chance>[^)]*)\)"
)
_STOP_SYMBOL = re.compile(r"^(?P<sym>(?:[\w.$@\-]+!\S.*?|[\w.$@\-]+\+0x[0-9a-fA-F]+|[\w.$@\-]+!\w+)):$")
_ANALYSIS_START = re.compile(
    r"^(?:\d+:\d+(?::\w+)?>\s*!analyze\b.*|[*#]\s*(?:Exception|Bugcheck) Analysis\s*[*#]?\s*)$",
    re.IGNORECASE,
)
_FOLLOWUP = re.compile(r"^Followup:\s+\S+")


@dataclass
class AnalysisText:
    """One `!analyze` block: its sections and key/value pairs."""

    sections: dict[str, list[str]] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)

    def first(self, *names: str) -> str | None:
        """The first non-empty single-line value among these section names."""
        for name in names:
            lines = self.sections.get(name)
            if lines:
                for line in lines:
                    if line.strip():
                        return line.strip()
        return None

    def key(self, *names: str) -> str | None:
        for name in names:
            value = self.keys.get(name)
            if value:
                return value
        return None


@dataclass
class Event:
    """A debugger event line such as `(ec4.f40): Access violation - code c0000005 (first chance)`."""

    line_number: int
    thread: str
    description: str
    code: str
    chance: str

    @property
    def first_chance(self) -> bool:
        return self.chance.strip().lower() == "first chance"


def split_analyses(lines: list[str]) -> list[tuple[int, int]]:
    """Line ranges of each `!analyze` output; the whole text when no banner survived."""
    starts = [
        i for i, line in enumerate(lines)
        if ("Analysis" in line or "!analyze" in line) and _ANALYSIS_START.match(line.strip())
    ]
    merged: list[int] = []
    for start in starts:
        # The prompt line and the banner below it open the same analysis.
        if merged and start - merged[-1] <= 6 and not any(
            _FOLLOWUP.match(lines[j]) for j in range(merged[-1], start)
        ):
            continue
        merged.append(start)
    if not merged:
        return [(0, len(lines))]
    ranges = []
    for n, start in enumerate(merged):
        end = merged[n + 1] if n + 1 < len(merged) else len(lines)
        ranges.append((start, end))
    if merged[0] > 0 and _has_analysis_fields(lines[: merged[0]]):
        ranges.insert(0, (0, merged[0]))
    return ranges


def _has_analysis_fields(lines: list[str]) -> bool:
    return any(line.startswith(("STACK_TEXT", "FAILURE_BUCKET_ID", "KEY_VALUES_STRING", "EXCEPTION_RECORD"))
               or _KEY.match(line) for line in lines)


def parse_analysis(lines: list[str]) -> AnalysisText:
    """Sections (NAME: value, continued until a blank line) and Key/Value pairs."""
    result = AnalysisText()
    current: list[str] | None = None
    pending_key: str | None = None
    for line in lines:
        stripped = line.lstrip()
        key = _KEY.match(line) if stripped.startswith("Key") else None
        if key:
            pending_key = key.group(1)
            current = None
            continue
        value = _VALUE.match(line) if pending_key is not None and stripped.startswith("Value") else None
        if value and pending_key is not None:
            result.keys.setdefault(pending_key, value.group(1))
            pending_key = None
            continue
        section = _SECTION.match(line) if line[:1].isupper() and ":" in line else None
        if section and section.group(1) not in _NOT_SECTIONS:
            name = section.group(1)
            rest = section.group(2) if section.group(2) is not None else section.group(3)
            current = []
            result.sections.setdefault(name, current)
            if rest and rest.strip():
                current.append(rest.strip())
            continue
        if not line.strip():
            if current is not None and current:
                current = None
            continue
        if current is not None:
            current.append(line)
    return result


def find_events(lines: list[str]) -> list[Event]:
    """Every exception event line in a session, in order."""
    events = []
    for number, line in enumerate(lines):
        if " - code " not in line:
            continue
        match = EVENT.match(line.strip())
        if match:
            events.append(
                Event(number, match.group("tid").lower(), match.group("desc"), match.group("code").lower(),
                      match.group("chance"))
            )
    return events


def stop_symbols(lines: list[str]) -> list[tuple[int, str]]:
    """`module!func+0x1f:` lines: where the debugger stopped, followed by a disassembly line."""
    found = []
    for number, line in enumerate(lines[:-1]):
        if not line.rstrip().endswith(":"):
            continue
        match = _STOP_SYMBOL.match(line.strip())
        if match and re.match(r"^\s*[0-9a-fA-F`]{8,17}\s+[0-9a-fA-F?]+\s", lines[number + 1]):
            found.append((number, match.group("sym")))
    return found


def collect_k_blocks(lines: list[str], header: re.Pattern[str]) -> list[list[str]]:
    """The stack lines under each `ChildEBP RetAddr` / `Child-SP RetAddr` header."""
    blocks: list[list[str]] = []
    i = 0
    while i < len(lines):
        if header.match(lines[i]):
            block = []
            i += 1
            while i < len(lines) and lines[i].strip() and not header.match(lines[i]):
                block.append(lines[i])
                i += 1
            blocks.append(block)
            continue
        i += 1
    return blocks
