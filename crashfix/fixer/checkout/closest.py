"""Why an `edit` did not match, and where the closest text is: bounded work on any file.

Comparing the model's `old_text` with every window of a large file (difflib on each) took
18 s of CPU on a 4,205-line file. Here one pass over the file finds the lines equal to a line
of `old_text` (whitespace aside) and the lines sharing its tokens; they vote for where the
window starts, the rarest evidence first and at most `VOTE_BUDGET` votes in all; difflib then
runs on the best `MAX_CANDIDATES` windows only, each cut to `MAX_COMPARE_CHARS`. The work
grows with the file's size, not with its size times the window's.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict

MAX_WANTED_LINES = 60  # a longer old_text is compared by its first lines
MAX_CANDIDATES = 40
MAX_COMPARE_CHARS = 4000
VOTE_BUDGET = 400_000  # votes cast for window starts, at most: common tokens are left out first
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+|[^\sA-Za-z0-9_]{2,}")


def mismatch(relative: str, text: str, old: str, count: int) -> str:
    """Tell the model precisely why its old_text did not match exactly once."""
    if count > 1:
        starts: list[int] = []
        at = text.find(old)
        while at >= 0 and len(starts) < 10:
            starts.append(text.count("\n", 0, at) + 1)
            at = text.find(old, at + 1)
        return (f"old_text occurs {count} times in {relative} (lines {', '.join(map(str, starts))}); "
                "include more surrounding lines so it matches exactly one place")
    squeeze = re.compile(r"\s+")
    squeezed = squeeze.sub(" ", old).strip()
    if squeezed and squeezed in squeeze.sub(" ", text):
        hint = "it differs from the file only in whitespace or indentation"
    else:
        hint = "no such text in the file"
    lines = text.split("\n")
    wanted = old.strip("\n").split("\n")
    best, ratio = closest(lines, wanted)
    window = lines[best:best + len(wanted)]
    shown = "\n".join(f"{best + 1 + i:>6}  {line}" for i, line in enumerate(window[:30]))
    return (f"old_text was not found in {relative} ({hint}). The closest text is at lines "
            f"{best + 1}-{best + len(window)} ({ratio:.0%} similar):\n{shown}\n"
            "Copy old_text exactly from read_file output, without the line numbers.")


def closest(lines: list[str], wanted: list[str]) -> tuple[int, float]:
    """The 0-based start of the window of `lines` most like `wanted`, and how alike (0..1)."""
    wanted = wanted[:MAX_WANTED_LINES]
    size = len(wanted)
    last = max(0, len(lines) - size)
    target = "\n".join(wanted)[:MAX_COMPARE_CHARS]
    best, best_ratio = 0, 0.0
    for start in _candidates(lines, wanted, last):
        matcher = difflib.SequenceMatcher(None, "\n".join(lines[start:start + size])[:MAX_COMPARE_CHARS], target,
                                          autojunk=False)
        if matcher.real_quick_ratio() <= best_ratio or matcher.quick_ratio() <= best_ratio:
            continue
        ratio = matcher.ratio()
        if ratio > best_ratio:
            best, best_ratio = start, ratio
    return best, best_ratio


def _candidates(lines: list[str], wanted: list[str], last: int) -> list[int]:
    """Window starts worth comparing, voted for by file lines equal to a wanted line (whitespace aside) and by
    lines sharing the wanted lines' rarest tokens; at most `VOTE_BUDGET` votes are cast, whatever the file."""
    votes: dict[int, float] = defaultdict(float)
    same: dict[str, list[int]] = defaultdict(list)  # a wanted line's squeezed text -> where it is in old_text
    at: dict[str, list[int]] = defaultdict(list)  # a token -> the wanted lines holding it
    for offset, line in enumerate(wanted):
        if line.strip():
            same[" ".join(line.split())].append(offset)
        for token in set(_TOKEN.findall(line)):
            at[token].append(offset)
    found: dict[str, list[int]] = defaultdict(list)  # a wanted line's text -> the file lines equal to it
    holding: dict[str, list[int]] = defaultdict(list)  # a token -> the file lines holding it
    for number, line in enumerate(lines):
        squeezed = " ".join(line.split())
        if squeezed in same:
            found[squeezed].append(number)
        for token in set(_TOKEN.findall(line)):
            if token in at:
                holding[token].append(number)
    budget = VOTE_BUDGET
    sources = [(numbers, same[text]) for text, numbers in found.items()]
    sources += [(holding[token], at[token]) for token in sorted(holding, key=lambda t: len(holding[t]))]
    for numbers, offsets in sorted(sources, key=lambda pair: len(pair[0])):  # the rarest evidence first
        budget -= len(numbers) * len(offsets)
        if budget < 0:
            break
        weight = 1.0 / len(numbers)  # found in few places: points at few places
        for number in numbers:
            for offset in offsets:
                votes[min(max(number - offset, 0), last)] += weight
    chosen = sorted(votes, key=lambda start: (-votes[start], start))[:MAX_CANDIDATES]
    return chosen or sorted({0, last})
