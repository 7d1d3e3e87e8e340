"""Markdown that shows any text as itself: code spans and fences no content can break out of.

Text from crashes and commits (function names, commit titles, file names) goes into an issue
only this way: inside code, `@name` mentions nobody and `fixes #12` links and closes nothing.
"""

from __future__ import annotations

import re

from crashfix.untrusted import code_span


def code(text: str) -> str:
    """An inline code span safe for any content, including backticks and table pipes."""
    return code_span(text.replace("|", "\\|"))


def fenced(text: str) -> str:
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence}text\n{text}\n{fence}"
