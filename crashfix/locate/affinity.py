"""Which of several candidate files a frame means: the one nearest the rest of the crash.

One qualified name can be defined in more than one file of a checkout: a client and a
server copy (`src/game/client/...` and `src/game/server/...`), a tool beside the server, a
vendored copy. One binary links only one of them, so the crash itself is the evidence: the
folders of the frame's own path (even when it no longer maps onto the checkout), the name
of the crashing binary (`DDNet-Server`, `worldserver`, `mangosd`), and the folders where
the stack's other frames were found. Used only to order candidates that the frame's own
name, file name and line leave tied; never to drop one.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from functools import cache

from crashfix.analysis.symbols import normalize_module
from crashfix.locate.index import is_low_priority, path_parts

Key = tuple[int, int, bool, int]
MIN_WORD = 3
"""Shorter pieces of a binary's name (`64`, `d`) say nothing about folders."""


def module_words(names: Iterable[str | None]) -> dict[str, int]:
    """Folder names a binary's name points at: the whole name (weight 2) and its words (weight 1).

    `DDRace64-Server_sql` -> {"ddrace64-server_sql": 2, "ddrace64": 1, "ddrace": 1, "server": 1, "sql": 1}.
    """
    out: dict[str, int] = {}
    for name in names:
        for word, weight in _words(name).items():
            out[word] = max(weight, out.get(word, 0))
    return out


@cache
def _words(name: str | None) -> dict[str, int]:
    base = normalize_module(name)
    if not base:
        return {}
    words = {*re.split(r"[^a-z0-9]+", base), *re.findall(r"[a-z]+", base)}
    return {**{word: 1 for word in words if len(word) >= MIN_WORD}, base: 2}


def _folders(path: str) -> tuple[str, ...]:
    return tuple(path_parts(path)[:-1])


def _common_prefix(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    length = 0
    for left, right in zip(a, b):
        if left != right:
            break
        length += 1
    return length


class Affinity:
    """Ranks candidate repository paths by how near they are to the crash's other evidence.

    `anchors` are the repository paths of frames whose location was not in doubt; `modules`
    are the binary names that apply when a frame names none itself.
    """

    def __init__(self, anchors: Iterable[str], modules: Iterable[str | None]) -> None:
        self._anchors = Counter(_folders(path) for path in anchors)
        self._modules = module_words(modules)
        self._stack = cache(self._stack_score)

    def key(self, candidate: str, own_file: str | None, own_module: str | None) -> Key:
        """Sort key, smaller is nearer: folders shared with the frame's own path, the binary's name in
        the folders, then the project before vendored code, then folders shared with the other frames."""
        folders = _folders(candidate)
        own = len(set(folders) & set(_folders(own_file))) if own_file else 0
        words = module_words([own_module]) if own_module else self._modules
        named = sum(words.get(folder, 0) for folder in folders)
        return (-own, -named, is_low_priority(candidate), -self._stack(folders))

    def _stack_score(self, folders: tuple[str, ...]) -> int:
        """Leading folders shared with each located frame's, summed (a frame found in the same folder counts most)."""
        return sum(count * _common_prefix(folders, anchor) for anchor, count in self._anchors.items())
