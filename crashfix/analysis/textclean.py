"""Turn whatever bytes a crash output arrives as into plain lines parsers can read.

Real input is damaged in ordinary ways: CDB output redirected by PowerShell is
UTF-16; pastes into GitHub lose `*` and `#` to Markdown, gain code fences, HTML
entities, `<details>` wrappers and `> ` quotes; logs shipped through journald or CI
carry a timestamp on every line. None of that is an error: it is undone here, once,
before any parser looks at the text.
"""

from __future__ import annotations

import codecs
import html
import re

# A log level after the timestamp is part of the prefix: `[12:00:00] [debug] `, `... ERROR: `.
_LEVEL = r"(?:\[?(?:debug|info|warn(?:ing)?|error|err|fatal|trace|notice|crit(?:ical)?)\]?:?\s+)?"
_TIMESTAMP_PREFIXES = tuple(re.compile(pattern + _LEVEL, re.IGNORECASE) for pattern in (
    # 2024-05-01T12:00:00.1234567Z (GitHub Actions logs)
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z? ?",
    # 2024-05-01 12:00:00,123 / [2024-05-01 12:00:00.123]
    r"^\[?\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?: ?[+-]\d{2}:?\d{2}|Z)?\]? ?",
    # [12:00:00] / 12:00:00.123
    r"^\[?\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\]? ?",
    # May  1 12:00:00 host worldserver[123]:
    r"^[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \S+ [\w./@-]+(?:\[\d+\])?: ?",
))
# A stack frame that a logger stamped, among lines it did not: `2024-05-01 12:00:00 ERROR #3 0x...`.
_STAMP_BEFORE_FRAME = re.compile(r"^.{0,40}?\d:\d\d:\d\d\S*\s.*?(?:#\d{1,4}\s|\s\d{1,4}\s+0x[0-9a-fA-F]+\s+in\s)")
_STAMPED_FRAME = re.compile(r"(?:#\d{1,4}\s|\d{1,4}\s+0x[0-9a-fA-F]+\s+in\s)")
_HTML_TAGS = re.compile(r"</?(?:details|summary|pre|code|p|br|b|i|tt|kbd|samp|blockquote)\b[^>]*>", re.I)
_FENCE = re.compile(r"^\s*(?:```|~~~)[\w+-]*\s*$")
_MARKDOWN_ESCAPE = re.compile(r"\\([*_#`~<>\[\]()|\\!-])")
_QUOTE = re.compile(r"^> ?")


def decode(data: bytes) -> str:
    """Bytes to text: BOMs, UTF-16 without BOM, UTF-8, then a lossless fallback."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    sample = data[:4096]
    if len(sample) >= 4 and sample[1::2].count(0) > len(sample) * 0.4:
        return data.decode("utf-16-le", errors="replace")
    if len(sample) >= 4 and sample[0::2].count(0) > len(sample) * 0.4:
        return data.decode("utf-16-be", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _strip_timestamps(lines: list[str]) -> list[str]:
    """Drop a per-line timestamp prefix when most lines carry the same kind."""
    content = [line for line in lines if line.strip()]
    if len(content) < 3:
        return lines
    sample = content[:40]
    for pattern in _TIMESTAMP_PREFIXES:
        if sum(1 for line in sample if pattern.match(line)) < 0.6 * len(sample):
            continue
        if sum(1 for line in content if pattern.match(line)) >= 0.6 * len(content):
            return [pattern.sub("", line, count=1) for line in lines]
    if not any(_STAMP_BEFORE_FRAME.search(line) for line in content if "#" in line or " in " in line):
        return lines
    return [_unstamp_frame(line) for line in lines]


def _unstamp_frame(line: str) -> str:
    """One frame line with a log timestamp in front, when the other lines have none."""
    if not line[:1].isdigit() and not line.startswith("["):
        return line
    for pattern in _TIMESTAMP_PREFIXES:
        match = pattern.match(line)
        if match and match.end() and _STAMPED_FRAME.match(line, match.end()):
            return line[match.end():]
    return line


_BANNER = re.compile(r"^[*#=\-\s]+$|^\*.*\*$|^#.*#$")
MIN_WRAP_WIDTH = 40


def _shape(line: str) -> str:
    """The look of a line's start: `#12 0x5f` and `#13 0x4a` share one."""
    return re.sub(r"[A-Za-z]", "a", re.sub(r"\d", "9", line[:8]))


def _unwrap_fixed_width(lines: list[str]) -> list[str]:
    """Rejoin lines a terminal or mail client cut at a fixed width.

    Hard wrapping leaves lines of exactly the same, maximal length, each followed by
    the shorter rest of its line. Fixed-width columns (a stack whose lines all have
    the same length) also produce equal maximal lengths, but there the next line is
    usually another full line; so most full-width lines must be followed by a
    shorter, non-empty fragment before anything is joined. Banners never count.
    """
    if len(lines) < 4:
        return lines
    width = max(len(line) for line in lines)
    if width < MIN_WRAP_WIDTH:
        return lines
    full = [i for i, line in enumerate(lines) if len(line) == width and not _BANNER.match(line)]
    followed = [
        i for i in full
        if i + 1 < len(lines) and 0 < len(lines[i + 1].strip()) < width
        and _shape(lines[i + 1]) != _shape(lines[i])  # a new record of the same kind is not a fragment
    ]
    if len(followed) < 2 or len(followed) < 0.5 * len(full):
        return lines
    joined: list[str] = []
    carry = ""
    for number, line in enumerate(lines):
        following = lines[number + 1] if number + 1 < len(lines) else ""
        if len(line) == width and not _BANNER.match(line) and following.strip() and (
            _shape(following) != _shape(carry + line)
        ):
            carry += line
            continue
        joined.append(carry + line)
        carry = ""
    if carry:
        joined.append(carry)
    return joined


def _strip_quotes(lines: list[str]) -> list[str]:
    content = [line for line in lines if line.strip()]
    if content and sum(1 for line in content if line.startswith(">")) >= 0.8 * len(content):
        return [_QUOTE.sub("", line, count=1) for line in lines]
    return lines


_SPACED_SEPARATOR = re.compile(r"(?:(?<=[\w.])|^) ?([\\/]) (?=[\w.])", re.M)
_SPACED_SCOPE = re.compile(r"(?<=\w) :: (?=[\w~])")
_SPACED_LINE_NUMBER = re.compile(r"(\.(?:cpp|cc|cxx|c|h|hpp|hh|hxx|inl|ipp)): (\d+)\b", re.IGNORECASE)


def _undo_spacing_damage(text: str) -> str:
    """Machine translation and retyping put spaces inside paths and names.

    `\\ src \\ game \\ Map.h: 853 in Map :: Get` was `\\src\\game\\Map.h:853 in Map::Get`. A line is
    repaired only where it shows the damage at least twice, so prose with one ` / ` stays.
    """
    lines = text.split("\n")
    for number, line in enumerate(lines):
        if line.count(" \\ ") + line.count(" / ") >= 2:
            line = _SPACED_SEPARATOR.sub(r"\1", line)
        if " :: " in line:
            line = _SPACED_SCOPE.sub("::", line)
        if ": " in line:
            line = _SPACED_LINE_NUMBER.sub(r"\1:\2", line)
        lines[number] = line
    return "\n".join(lines)


def clean_text(text: str) -> str:
    """Undo transport damage; the result has `\\n` line ends and no Markdown wrapping."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = text.lstrip("\ufeff")
    if "&" in text and re.search(r"&(?:lt|gt|amp|quot|#\d+|#x[0-9a-f]+);", text, re.I):
        text = html.unescape(text)
    if "<" in text:
        text = _HTML_TAGS.sub("", text)
    lines = text.split("\n")
    if "```" in text or "~~~" in text:
        lines = [line for line in lines if not _FENCE.match(line)]
    if text.startswith(">") or "\n>" in text:
        lines = _strip_quotes(lines)
    lines = _strip_timestamps(lines)
    lines = _unwrap_fixed_width(lines)
    joined = "\n".join(line.rstrip() for line in lines)
    if " \\ " in joined or " :: " in joined or " / " in joined:
        joined = _undo_spacing_damage(joined)
    if "\\" in joined:
        joined = re.sub(r"\*\*\\\*", "***", joined)
        joined = _MARKDOWN_ESCAPE.sub(_unescape_markdown, joined)
    return joined


def _unescape_markdown(match: re.Match[str]) -> str:
    """`\\*` -> `*`, but a Windows path's `\\_#_DEV` stays a path."""
    char = match.group(1)
    start = match.start()
    before = match.string[start - 1] if start > 0 else ""
    if char in "_#-([" and (before.isalnum() or before in ":\\/"):
        return match.group(0)
    return char
