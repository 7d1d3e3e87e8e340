"""Why an `edit` did not match, and where the closest text is: bounded work on any file.

Comparing the model's `old_text` with every window of a large file (difflib on each) took
18 s of CPU on a 4,205-line file. Here only windows that share rare tokens with `old_text`
are compared: one pass counts in how many lines each of its tokens occurs, a second pass
votes for window starts by the lines holding the rarest of them, and difflib runs on the
best `MAX_CANDIDATES` windows only, each cut to `MAX_COMPARE_CHARS`. The work grows with
the file's size, not with its size times the window's.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict

MAX_WANTED_LINES = 60  # a longer old_text is compared by its first lines
MAX_CANDIDATES = 40
MAX_COMPARE_CHARS = 4000
MAX_TOKEN_LINES = 200  # a token in more lines than this says nothing about where the text is
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
    """Window starts worth comparing: voted for by lines that share the wanted lines' rarer tokens."""
    at: dict[str, list[int]] = defaultdict(list)  # token -> the wanted lines holding it
    for offset, line in enumerate(wanted):
        for token in set(_TOKEN.findall(line)):
            at[token].append(offset)
    if not at:
        return sorted({0, last})
    holding: dict[str, list[int]] = defaultdict(list)  # token -> the file lines holding it (capped)
    for number, line in enumerate(lines):
        for token in set(_TOKEN.findall(line)):
            if token in at and len(holding[token]) <= MAX_TOKEN_LINES:
                holding[token].append(number)
    rare = {token: numbers for token, numbers in holding.items() if len(numbers) <= MAX_TOKEN_LINES}
    votes: dict[int, float] = defaultdict(float)
    for token, numbers in rare.items():
        weight = 1.0 / len(numbers)  # a token found in few lines points at few places
        for number in numbers:
            for offset in at[token]:
                votes[min(max(number - offset, 0), last)] += weight
    chosen = sorted(votes, key=lambda start: (-votes[start], start))[:MAX_CANDIDATES]
    return chosen or sorted({0, last})
