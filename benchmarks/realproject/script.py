"""The scripted model: the developers' own fix as `edit` tool calls, first broken so it does not compile.

Round 1 applies the real fix with one identifier misspelt in its first added line (a realistic
slip the compiler catches); the repair turn corrects exactly that; any further turn gives up.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

Edit = dict[str, str]
_WORD = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]{2,})\b")
_KEYWORDS = frozenset("""break return continue while for if else int char bool void const auto true false nullptr
new delete static struct class public private protected case default switch sizeof unsigned long short float double
include define""".split())


def file_edits(path: str, old: str, new: str) -> list[Edit]:
    """`old` -> `new` as edits, each unique in the file as it is when applied (top to bottom)."""
    after = new.splitlines(keepends=True)
    edits: list[Edit] = []
    current = old
    while current != new:
        lines = current.splitlines(keepends=True)
        groups = list(difflib.SequenceMatcher(None, lines, after, autojunk=False).get_grouped_opcodes(0))
        if not groups or len(edits) > 500:
            raise SystemExit(f"cannot express the change of {path} as edits")
        group = groups[0]
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        context = 0
        while True:
            a, b = max(0, i1 - context), min(len(lines), i2 + context)
            old_text = "".join(lines[a:b])
            if old_text and current.count(old_text) == 1:
                break
            if a == 0 and b == len(lines):
                raise SystemExit(f"cannot express the change of {path} as unique edits")
            context += 1
        new_text = "".join(lines[a:i1] + after[j1:j2] + lines[i2:b])
        edits.append({"path": path, "old_text": old_text, "new_text": new_text})
        current = current.replace(old_text, new_text, 1)
    return edits


@dataclass
class BrokenFirst:
    """The edits of round 1 (one identifier misspelt) and of the repair (that identifier put right)."""

    first: list[Edit]
    repair: list[Edit] = field(default_factory=list)
    slip: str = ""


def break_one(edits: list[Edit]) -> BrokenFirst:
    for index, edit in enumerate(edits):
        added = [line for line in edit["new_text"].splitlines(keepends=True)
                 if line not in edit["old_text"].splitlines(keepends=True)]
        for line in added:
            words = [w for w in _WORD.findall(line) if w not in _KEYWORDS]
            if not words:
                continue
            word = words[0]
            broken_line = line.replace(word, word + "_", 1)
            broken = edit["new_text"].replace(line, broken_line, 1)
            first = [*edits[:index], {**edit, "new_text": broken}, *edits[index + 1:]]
            repair = [{"path": edit["path"], "old_text": broken_line, "new_text": line}]
            return BrokenFirst(first=first, repair=repair, slip=f"{word} -> {word}_ in {edit['path']}")
    raise SystemExit("the fix adds no line with an identifier to misspell")


def finish(case: dict[str, Any]) -> dict[str, Any]:
    return {"status": "fixed", "root_cause": f"(scripted) {case.get('fix_subject', 'the developers fix')}",
            "explanation": "Replayed from the developers' own commit by benchmarks/real_project.py.",
            "fix_summary": case.get("fix_subject", ""), "confidence": "high", "risk": "low", "guard_only": False}
