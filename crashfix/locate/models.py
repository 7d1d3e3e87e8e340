"""What `locate` hands the fixer: the snippets of source the model reads first, and where each frame was found.

Strict pydantic records: the PR body, the progress comment and `--json` output are rendered from them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from crashfix.analysis.models import Strict


class Snippet(Strict):
    """A piece of the repository shown to the model up front, and why it was chosen."""

    path: str = Field(description="Repository-relative, forward slashes.")
    start_line: int = Field(ge=1, description="1-based, inclusive.")
    end_line: int = Field(ge=1, description="1-based, inclusive.")
    text: str
    reason: str = Field(description="e.g. 'frame #0 Player::Update (blamed)', 'caller frame #2', 'definition of X'.")
    frame_index: int | None = None
    function: str | None = Field(default=None, description="Qualified name of the enclosing function, if any.")


class FrameLocation(Strict):
    """Where one stack frame was found in the checkout (or why not)."""

    frame_index: int
    function: str | None = None
    original_file: str | None = Field(default=None, description="The path as the crash report gave it.")
    path: str | None = Field(default=None, description="Repository-relative path, when found.")
    line: int | None = None
    how: Literal["path", "mapping", "suffix", "function-search", "not-found"] = "not-found"


class CodeContext(Strict):
    """What `locate` found for a crash: snippets within a token budget, plus the project's notes."""

    snippets: list[Snippet] = Field(default_factory=list)
    frames: list[FrameLocation] = Field(default_factory=list)
    instructions: str | None = Field(default=None, description="Text of the project's instruction file, trimmed.")
    instructions_path: str | None = None
    estimated_tokens: int = 0
    dropped: list[str] = Field(default_factory=list, description="Reasons of snippets left out for the budget.")

    def paths(self) -> list[str]:
        """Files shown, most important first, each once."""
        seen: dict[str, None] = {}
        for snippet in self.snippets:
            seen.setdefault(snippet.path, None)
        return list(seen)
