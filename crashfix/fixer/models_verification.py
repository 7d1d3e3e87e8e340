"""Records for what a fix's verification showed: the base commit's own failures, the regression test, the level.

Kept beside `models` (which imports them) so the baseline and regression-test records can grow
without crowding the core records. They reach the PR body, the issue comment, the job summary,
`--json` and `crashfix stats`, so each is a strict pydantic model.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from crashfix.analysis.models import Strict

VerificationLevel = Literal["reproduced-and-fixed", "built-and-tests-pass", "not-verified"]

LEVEL_TEXT: dict[str, str] = {
    "reproduced-and-fixed": "reproduced and fixed",
    "built-and-tests-pass": "built and tests pass (crash not reproduced)",
    "not-verified": "not verified",
}

MAX_COMMAND_PARTS = 64
MAX_PART_CHARS = 1000


class RegressionTest(Strict):
    """The model's declaration of the test it added or extended to reproduce the crash (untrusted)."""

    files: list[str] = Field(min_length=1, max_length=20,
                             description="The changed files that belong to the test (applied on the base commit).")
    command: list[str] = Field(min_length=1, max_length=MAX_COMMAND_PARTS,
                               description="Runs just that test, e.g. ctest -R <name>; {checkout} is substituted.")
    name: str = Field(default="", max_length=200)

    @field_validator("command")
    @classmethod
    def _plain_parts(cls, value: list[str]) -> list[str]:
        for part in value:
            if not part or len(part) > MAX_PART_CHARS or "\x00" in part or "\n" in part:
                raise ValueError("each part must be a non-empty single line of at most 1000 characters")
        return value


class BaselineSummary(Strict):
    """The base commit, built and tested before the model's first edit (or that result, from the cache)."""

    base_commit: str
    cached: bool = Field(default=False, description="True when the result came from the cache, nothing re-ran.")
    cache_file: str | None = None
    built: bool = Field(description="False when the base commit itself does not build.")
    tested: bool = Field(default=False, description="True when the test commands ran (the build passed).")
    preexisting: list[str] = Field(default_factory=list,
                                   description="Failures before any edit: test ids, or a command and its exit status.")
    build_errors: list[str] = Field(default_factory=list, description="The base's first build errors, if it broke.")
    seconds: float = 0.0


class RegressionCheck(Strict):
    """The declared regression test, run on the fix and on the base commit with only the test files applied."""

    test: RegressionTest | None = None
    on_fix: Literal["passed", "failed", "not-run"] = "not-run"
    on_base: Literal["failed", "crashed", "passed", "did-not-build", "not-run"] = "not-run"
    detail: str = Field(default="", description="One line: what was run and what it showed, or why not.")
    seconds: float = 0.0

    @property
    def reproduced(self) -> bool:
        return self.on_fix == "passed" and self.on_base in ("failed", "crashed")
