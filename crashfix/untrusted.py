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


# -- untrusted text on its way to GitHub -----------------------------------------------------------
#
# Whatever the model wrote or a crash carried can land in a comment, a PR body, a commit message
# or a job summary. There it must not act: ping people (@user, @org/team), close issues when the
# PR merges (GitHub's closing keywords before any issue reference), link other issues, show images
# or links (tracking pixels, phishing), or inject HTML. Such tokens are rendered as inline code,
# everything else has its HTML escaped; text already in code is left as it is (it cannot act).
# Checked against GitHub's own Markdown (cmark-gfm) by a property test (tests/test_untrusted.py).

_KEYWORD = r"(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)"
_URL = r"(?:(?:https?|ftp)://|www\.)[^\s<]+"  # as far as GitHub's autolinker takes it
_REF = (r"(?:(?:https?://[^\s/<>`]+/)?[\w.-]+/[\w.-]+/(?:issues|pull)/\d+|(?:[\w.-]+/[\w.-]+)?#\d+|GH-\d+)")
_LIST = rf"{_REF}(?:[ \t]*(?:,|and|&)?[ \t]*{_REF})*"
_TOKENS = re.compile(
    rf"(?P<image>!\[[^\[\]\n]*\]\([^)\n]*\)?)"
    rf"|(?P<link>\[[^\[\]\n]*\]\([^)\n]*\)?)"
    rf"|(?P<refdef>^[ ]{{0,3}}\[[^\]\n]+\]:[ \t]*\S+)"
    rf"|(?P<closing>\b{_KEYWORD}\b:?[ \t]*\n?[ \t]*{_LIST})"
    rf"|(?P<autolink><[a-zA-Z][\w+.-]*:[^\s<>]*>)"
    rf"|(?P<url>{_URL})"
    rf"|(?P<ref>[\w.-]+/[\w.-]+#\d+|(?<![A-Za-z0-9/])#\d+|(?<![A-Za-z0-9])GH-\d+)"
    rf"|(?P<email>[\w.+-]+@[\w.-]*\.[\w.-]*)"
    rf"|(?P<mention>(?<![A-Za-z0-9])@[A-Za-z0-9][\w-]*(?:/[\w.-]+)?)",
    re.IGNORECASE | re.MULTILINE)
_FENCE_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}(?=[^`]*$)|~{3,})")


_TICK = "\ue000"  # a literal backtick while text is neutralised: a token cut out of the text cannot split its escape


def code_span(text: str) -> str:
    """`text` as one inline code span, whatever backticks it holds (Markdown cannot end it early)."""
    text = re.sub(r"\s+", " ", text.replace(_TICK, "`"))
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    padding = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def _escape_html(text: str) -> str:
    """Text as Markdown shows it literally: no HTML, and literal backticks escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace(_TICK, "\\`")


def _neutralise(text: str, out: list[str]) -> None:
    """Plain Markdown text (no code in it) with every token that could act rendered as code.

    The rest is searched afresh after each token: next to a code span a new text node starts,
    where GitHub sees `@name` or `#5` at its start as a mention or reference of its own.
    """
    while text:
        match = _TOKENS.search(text)
        if match is None:
            break
        before = text[:match.start()]
        out.append(_escape_html(before))
        text = text[match.end():]
        _append_code(out, match.group(0))
    out.append(_escape_html(text))


def _append_code(out: list[str], token: str) -> None:
    """A code span after what is written so far; a backslash just before it would escape its backtick."""
    written = out[-1] if out else ""
    trailing = len(written) - len(written.rstrip("\\"))
    if trailing % 2:
        out.append("\\")
    out.append(code_span(token))


def _inline(line: str, out: list[str]) -> None:
    """One line outside fenced code: existing code spans kept, stray backticks escaped, the rest neutralised."""
    text: list[str] = []
    index = 0
    while index < len(line):
        char = line[index]
        if char == "\\" and index + 1 < len(line) and line[index + 1] in "`\\":
            text.append(_TICK if line[index + 1] == "`" else "\\\\")  # escaped: literal, as in CommonMark
            index += 2
            continue
        if char != "`":
            text.append(char)
            index += 1
            continue
        run = len(line[index:]) - len(line[index:].lstrip("`"))
        closing = re.compile(rf"(?<!`)`{{{run}}}(?!`)").search(line, index + run)
        if closing is None:
            text.append(_TICK * run)  # an unmatched backtick is literal; escaped, it cannot pair with ours
            index += run
            continue
        _neutralise("".join(text), out)
        text = []
        out.append(line[index:closing.end()])
        index = closing.end()
    _neutralise("".join(text), out)


def inert_markdown(text: str | None, limit: int | None = None, *, one_line: bool = False) -> str:
    """Model- or crash-derived text as Markdown for GitHub that cannot act (the one function for it).

    Hidden comments and invisible characters are removed, the text is capped at `limit`
    characters, fenced code blocks are kept (and closed if left open); outside code, @mentions,
    closing keywords with their references, every issue reference, images, links, URLs and
    addresses become inline code, and HTML is escaped. `one_line`: for a table cell or a
    heading, where no block can start: line breaks become spaces first.
    """
    text = _INVISIBLE.sub("", _HTML_COMMENT.sub("", text or "")).replace(_TICK, "")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    if limit is not None and len(text) > limit:
        text = text[:limit].rstrip() + " […]"
    if one_line:
        out: list[str] = []
        _inline(re.sub(r"\s+", " ", text).strip(), out)
        return _join(out)
    out = []
    fence: str | None = None
    for line in text.split("\n"):
        if fence is not None:
            out.append(line + "\n")
            if re.match(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$", line):
                fence = None
            continue
        opened = _FENCE_OPEN.match(line)
        if opened:
            fence = opened.group("fence")
            out.append(line + "\n")
            continue
        _inline(line, out)
        out.append("\n")
    if fence is not None:
        out.append(fence + "\n")
    return _join(out).removesuffix("\n")


def cut_at_line(markdown: str, limit: int) -> str:
    """Rendered Markdown capped at `limit` characters, cut only at a line end.

    `inert_markdown` closes every code span on the line that opens it; a cut inside a line could
    drop a closing backtick and leave what the span held (a mention, `fixes #5`) live. A fenced
    block left open by the cut runs to the end, which keeps its content inert too.
    """
    if len(markdown) <= limit:
        return markdown
    note = "\n\n_[… cut to fit GitHub's limit]_"
    head = markdown[: max(0, limit - len(note))]
    return head[: max(0, head.rfind("\n"))] + note


def _join(pieces: list[str]) -> str:
    """The pieces as one text, with a space where a code span would touch what precedes it.

    Backtick runs that touch make one longer run, which can leave both spans unclosed and the
    text between them live; and GitHub's autolinker runs before code spans, so a URL or an
    address right before a backtick would swallow the span's opening and free its content.
    """
    joined: list[str] = []
    for piece in filter(None, pieces):
        if joined and piece.startswith("`"):
            word = re.split(r"\s", "".join(joined)[-2000:])[-1]
            if word.endswith("`") or re.search(r"://|www\.|@", word, re.IGNORECASE):
                joined.append(" ")
        joined.append(piece)
    return "".join(joined)


_PLAIN_CLOSING = re.compile(rf"\b{_KEYWORD}\b:?\s*(?:{_LIST}|{_URL})", re.IGNORECASE)


def _plain_references(match: re.Match[str]) -> str:
    """`fixes #5, acme/game#6` -> `fixes issue 5, acme/game issue 6`; `fixes https://...` -> `fixes (https://...)`."""
    text = re.sub(r"((?:[\w.-]+/[\w.-]+)?)#(\d+)", lambda m: f"{m[1]} issue {m[2]}".strip(), match.group(0))
    text = re.sub(r"\bGH-(\d+)", r"issue \1", text, flags=re.IGNORECASE)
    return re.sub(r"((?:https?://|www\.)\S+)", r"(\1)", text)


def inert_plain(text: str | None, limit: int | None = None) -> str:
    """Untrusted text for places GitHub reads but does not render as Markdown: commit messages, titles.

    A closing keyword's references become words (`fixes #5` -> `fixes issue 5`, `closes acme/game#5`
    -> `closes acme/game issue 5`, a URL after it goes in parentheses): none of it closes anything
    when the commit lands or the PR is squashed. @mentions become code.
    """
    text = _INVISIBLE.sub("", _HTML_COMMENT.sub("", text or ""))
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    if limit is not None and len(text) > limit:
        text = text[:limit].rstrip() + " […]"
    text = _PLAIN_CLOSING.sub(_plain_references, text)
    return re.sub(r"(?<!\w)@([A-Za-z0-9][\w-]*(?:/[\w.-]+)?)", r"`@\1`", text)
