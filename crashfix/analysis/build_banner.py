"""Which build crashed, when the text says: a `Revision:` line or a server's version banner.

TrinityCore and AzerothCore print `<Product> rev. <hash>[+] <date> (<branch> branch) (<platform>,
<build type>, <linkage>)` at start-up and in their crash logs (`Revision: ...`); a `+` marks a
build with local changes. Any crash text that carries such a line (a server log with a gdb
backtrace after it, a crash handler's output) says which commit crashed.
"""

from __future__ import annotations

import re

from crashfix.analysis.models import BuildInfo

SCAN_CHARS = 256_000  # a banner is printed early; a log's first quarter megabyte is enough
_REVISION_LINE = re.compile(r"^\s*Revision:\s*(?P<text>.+?)\s*$", re.M)
_BANNER_LINE = re.compile(r"^(?P<text>[^\n]*?\b[A-Za-z][\w.-]* rev\. [0-9a-f]{7,40}\+?(?=[\s)]|$)[^\n]*)$", re.M)
_HASH = re.compile(r"(?<![\d-])\b([0-9a-f]{7,40}\+?)(?=[\s)]|$)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?: [+-]\d{4})?")
_PRODUCT = re.compile(r"\b([A-Za-z][\w.-]*) rev\.")


def build_from_line(line: str) -> BuildInfo:
    """`TrinityCore rev. e34c629a654c 2024-01-01 10:00:00 +0000 (3.3.5 branch) (Win64, RelWithDebInfo, Static)`."""
    prefix = line.split(" rev.", 1)[0].strip() if " rev." in line else ""
    named = _PRODUCT.search(line)
    product = prefix if re.fullmatch(r"[A-Za-z][\w. -]{0,40}", prefix) else named.group(1) if named else None
    revision = _HASH.search(line)
    branch = re.search(r"\(([^()]*?) branch\)", line)
    build_type = re.search(r"\((Win(?:32|64|ARM64)[^()]*|Unix[^()]*)\)", line)
    after = line[revision.end():] if revision else line  # the build date follows the commit; a log time precedes
    date = _DATE.search(after) or _DATE.search(line)
    return BuildInfo(
        product=product or None,
        revision=revision.group(1) if revision else None,
        branch=branch.group(1) if branch else None,
        build_type=build_type.group(1) if build_type else None,
        date=date.group(0) if date else None,
    )


def find_build(text: str) -> BuildInfo | None:
    """The build a `Revision:` line or a `... rev. <hash>` banner names, if the text has one with a commit.

    It runs on every input: the line patterns run only on the lines holding their literal.
    """
    head = text[:SCAN_CHARS]
    for literal, pattern in (("Revision:", _REVISION_LINE), (" rev. ", _BANNER_LINE)):
        for line in _lines_with(head, literal):
            match = pattern.match(line)
            if match is None:
                continue
            build = build_from_line(match.group("text"))
            if build.revision:
                return build
    return None


def _lines_with(text: str, literal: str) -> list[str]:
    """The lines of `text` that contain `literal`, in order (found by `str.find`, not a regex scan)."""
    lines: list[str] = []
    at = text.find(literal)
    while at >= 0:
        start = text.rfind("\n", 0, at) + 1
        end = text.find("\n", at)
        end = len(text) if end < 0 else end
        lines.append(text[start:end])
        at = text.find(literal, end)
    return lines
