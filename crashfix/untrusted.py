"""Untrusted text on its way to the model: issue bodies, comments, crash data.

Anyone can write an issue comment, and a crash log can carry whatever the crashing
program printed. Such text reaches the model only as quoted data: HTML comments
(invisible on GitHub, visible to a model) and invisible or direction-changing
characters are removed, its length is capped, and it is wrapped in a tagged block whose
closing tag cannot be forged from inside. The few bits of such text the prompt shows
outside a block (a frame's function name in a heading) go through `inline`: one line,
no angle brackets, capped, so they can neither close a block nor start a line of their own.
"""

from __future__ import annotations

import re
import unicodedata

_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.S)
# Zero-width, bidi embedding/override/isolate, word joiners, BOM, Unicode tag characters.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]")
_TAG_NAME = re.compile(r"[^a-z0-9-]")


def clean_human_text(text: str, limit: int = 6000) -> str:
    """Text a person wrote, as the model may see it: no hidden comments or characters, capped."""
    text = _HTML_COMMENT.sub("", text or "")
    text = _INVISIBLE.sub("", text)
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    if len(text) > limit:
        text = text[:limit].rstrip() + f"\n[... {len(text) - limit} more characters not shown]"
    return text


def quote(source: str, text: str, *, kind: str = "untrusted-data") -> str:
    """`text` inside `<kind source="...">…</kind>`, with any look-alike closing tag inside neutralised."""
    tag = _TAG_NAME.sub("-", kind.lower())
    body = re.sub(rf"</?\s*{re.escape(tag)}", lambda m: m.group(0).replace("<", "&lt;"), text, flags=re.I)
    label = source.replace('"', "'")
    return f'<{tag} source="{label}">\n{body}\n</{tag}>'


_LINE_BREAKING = re.compile(r"\s+")


def inline(text: str | None, limit: int = 160) -> str:
    """Untrusted text for one line of the prompt outside a quoted block (a function name, a reason).

    Control, invisible and line-breaking characters become spaces, `<` and `>` become `‹` and
    `›` (no tag can be opened or closed), and the result is capped at `limit` characters.
    """
    text = _INVISIBLE.sub("", text or "")
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp") else ch for ch in text)
    text = _LINE_BREAKING.sub(" ", text).strip().replace("<", "\u2039").replace(">", "\u203a")
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "\u2026"
    return text
