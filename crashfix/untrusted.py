"""Untrusted text on its way to the model: issue bodies, comments, crash data.

Anyone can write an issue comment, and a crash log can carry whatever the crashing
program printed. Such text reaches the model only as quoted data: HTML comments
(invisible on GitHub, visible to a model) and invisible or direction-changing
characters are removed, its length is capped, and it is wrapped in a tagged block whose
closing tag cannot be forged from inside.
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
