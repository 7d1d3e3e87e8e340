"""Cheap format detection: a literal test first, a regex only when the literal is there.

Detection runs every parser's `sniff` on every input, so it must cost microseconds,
not a regex scan of megabytes per marker.
"""

from __future__ import annotations

import re
from typing import NamedTuple


class Marker(NamedTuple):
    literal: str
    pattern: re.Pattern[str] | None
    weight: float


def marker(literal: str, weight: float, pattern: str | None = None, flags: int = re.M) -> Marker:
    return Marker(literal, re.compile(pattern, flags) if pattern else None, weight)


WINDOW = 32 * 1024


def score(text: str, markers: tuple[Marker, ...]) -> float:
    """Sum of the weights of the markers present, capped at 1.

    A marker's regex runs only from the line of its literal's first occurrence, over
    a bounded window: detection stays fast on megabyte-long sessions.
    """
    total = 0.0
    for literal, pattern, weight in markers:
        at = text.find(literal)
        if at < 0:
            continue
        if pattern is not None:
            start = text.rfind("\n", 0, at) + 1
            if pattern.search(text, start, at + WINDOW) is None:
                continue
        total += weight
        if total >= 1.0:
            return 1.0
    return total
