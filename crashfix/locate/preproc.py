"""The source text tree-sitter is given: what the preprocessor would have hidden, blanked out.

tree-sitter parses C++ without running the preprocessor, so two things break it in real
server code: export macros (`class TC_GAME_API Player : public Unit`) and conditional
branches that each hold half a statement (`#if A if (x) #else if (y) #endif {`), which
can turn the rest of a 20,000-line file into one ERROR node. Both are blanked with
spaces, keeping every byte offset and line number, so a span found in a view is a span in
the file. Conditional code is seen twice: once keeping each group's first branch, once
keeping its last (so `#ifdef _WIN32 ... #else ... #endif` functions are all found).
"""

from __future__ import annotations

import re

_BLANK = bytes(byte if byte in (10, 13) else 32 for byte in range(256))
_WORD = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_MACRO_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
# `class TC_GAME_API Player : public Unit` (an all-caps word between `class` and the name) and
# `TC_GAME_API void Foo()`, `DWORD WINAPI Run(void*)` (export and calling-convention macros).
# Each pattern starts with a literal, which keeps a 100 MB tree's scan well under a second.
_CLASS_MACROS = [
    re.compile(keyword + rb"[ \t]+([A-Z_][A-Z0-9_]+)[ \t]+(?=(?!final\b)[A-Za-z_]\w*\s*(?::(?!:)|\{|final\b))")
    for keyword in (rb"class", rb"struct", rb"union")
]
_DECL_MACROS = [
    re.compile(suffix + rb"(?=[ \t]+[A-Za-z_~])")
    for suffix in (rb"_API", rb"EXPORT", rb"WINAPI", rb"APIENTRY", rb"CALLBACK")
]
_DIRECTIVE = re.compile(rb"#[ \t]*(if|ifdef|ifndef|elif|elifdef|elifndef|else|endif)\b(?:[^\n]*\\\r?\n)*[^\n]*")
_FALSE_CONDITION = re.compile(rb"#[ \t]*if[ \t]+(?:0|false)[ \t]*(?:$|/[/*]|\r)")


def _blank_macros(source: bytes) -> bytes:
    """Blank export macros in place of the preprocessor that would expand them to nothing."""
    out: bytearray | None = None
    for pattern in _CLASS_MACROS:
        for match in pattern.finditer(source):
            if match.start() == 0 or source[match.start() - 1] not in _WORD:
                out = out if out is not None else bytearray(source)
                out[match.start(1) : match.end(1)] = b" " * (match.end(1) - match.start(1))
    for pattern in _DECL_MACROS:
        for match in pattern.finditer(source):
            start = match.start()
            while start > 0 and source[start - 1] in _MACRO_CHARS:
                start -= 1
            if (start == 0 or source[start - 1] not in _WORD) and source[start : start + 1].isupper():
                out = out if out is not None else bytearray(source)
                out[start : match.end()] = b" " * (match.end() - start)
    return bytes(out) if out is not None else source


def _line_directives(source: bytes) -> list[re.Match[bytes]]:
    """Conditional directives that start their line (a `#` elsewhere is in a string or a macro body)."""
    found = []
    for match in _DIRECTIVE.finditer(source):
        line_start = source.rfind(b"\n", 0, match.start()) + 1
        if not source[line_start : match.start()].strip():
            found.append(match)
    return found


def views(source: bytes) -> list[bytes]:
    """One or two blanked copies of `source` to parse: first branches, then (if any differ) last branches."""
    if source.startswith(b"\xef\xbb\xbf"):
        source = b"   " + source[3:]
    source = _blank_macros(source)
    directives = _line_directives(source)
    if not directives:
        return [source]
    branches = _branches(directives)
    first = _view(source, directives, branches, last=False)
    if all(total == 1 for _, _, total, _ in branches):
        return [first]
    return [first, _view(source, directives, branches, last=True)]


def _branches(directives: list[re.Match[bytes]]) -> list[tuple[int, int, int, bool]]:
    """For each directive: (group, branch number, branches in the group, group is `#if 0`)."""
    out: list[list[int]] = []
    totals: dict[int, int] = {}
    dead: set[int] = set()
    stack: list[int] = []
    next_group = 0
    for match in directives:
        word = match.group(1)
        if word.startswith(b"if"):
            stack.append(next_group)
            totals[next_group] = 1
            if _FALSE_CONDITION.match(match.group(0)):
                dead.add(next_group)
            out.append([next_group, 0])
            next_group += 1
        elif not stack:  # an #else or #endif without its #if: ignore it
            out.append([-1, 0])
        elif word == b"endif":
            out.append([stack.pop(), -1])
        else:
            totals[stack[-1]] += 1
            out.append([stack[-1], totals[stack[-1]] - 1])
    return [(group, branch, totals.get(group, 1), group in dead) for group, branch in out]


def _view(source: bytes, directives: list[re.Match[bytes]], branches: list[tuple[int, int, int, bool]],
          last: bool) -> bytes:
    """Blank directive lines and the branches this view does not keep."""
    pieces: list[bytes] = []
    kept_branch: dict[int, bool] = {}
    stack: list[int] = []
    position = 0
    for match, (group, branch, total, dead) in zip(directives, branches):
        text = source[position : match.start()]
        pieces.append(text if all(kept_branch[g] for g in stack) else text.translate(_BLANK))
        pieces.append(match.group(0).translate(_BLANK))
        position = match.end()
        if group < 0:
            continue
        if branch == 0:
            stack.append(group)
        elif branch < 0:
            if stack and stack[-1] == group:
                stack.pop()
            continue
        chosen = (total - 1 if last else 0) if not dead else (1 if total > 1 else -1)
        kept_branch[group] = branch == chosen
    active = all(kept_branch[g] for g in stack)
    pieces.append(source[position:] if active else source[position:].translate(_BLANK))
    return b"".join(pieces)
