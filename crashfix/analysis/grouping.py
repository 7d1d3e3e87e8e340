"""Which signatures are one crash: the same bug posted twice, cut at different points.

A signature id already groups reports whose keyed frames are equal. Two more cases are
the same crash although their ids differ: a report cut short, whose frames are a prefix
of another's (the same crash class, at least the top two frames equal), and a frame named
without its class in one report (`GetMap`) and with it in the other (`WorldObject::GetMap`).
Only good-quality signatures are grouped this way: a low-quality one rests on too little to
say two crashes are one.
"""

from __future__ import annotations

from crashfix.analysis.models import Signature
from crashfix.analysis.signature import unqualified

MIN_SHARED_FRAMES = 2


def same_crash(first: Signature, second: Signature) -> bool:
    """Whether two signatures stand for one crash."""
    if first.id == second.id:
        return True
    if first.version != second.version or first.crash_class != second.crash_class:
        return False
    if first.quality != "good" or second.quality != "good":
        return False
    shorter, longer = sorted((first.frames, second.frames), key=len)
    if len(shorter) < MIN_SHARED_FRAMES:
        return False
    return all(same_function(a, b) for a, b in zip(shorter, longer))


def same_function(first: str, second: str) -> bool:
    """Equal keys, or one the unqualified spelling of the other (`GetMap`, `WorldObject::GetMap`)."""
    if first == second:
        return True
    if "::" in first and "::" in second:
        return False
    return unqualified(first) == unqualified(second)


def group(signatures: list[Signature]) -> list[int]:
    """A group number for each signature: the same number for signatures of one crash."""
    parent = list(range(len(signatures)))

    def root(item: int) -> int:
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    for i, first in enumerate(signatures):
        for j in range(i + 1, len(signatures)):
            if root(i) != root(j) and same_crash(first, signatures[j]):
                parent[root(j)] = root(i)
    return [root(i) for i in range(len(signatures))]
