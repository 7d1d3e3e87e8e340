"""Records that cross the fixer's boundaries: build/test results, the model's answer, the outcome.

They are what the PR body, the progress comment, the job summary and `--json` output are
rendered from, so each is a strict pydantic model rather than a loose dict.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from crashfix.analysis.models import Strict
from crashfix.fixer.models_verification import (
    LEVEL_TEXT,
    BaselineSummary,
    RegressionCheck,
    RegressionTest,
    VerificationLevel,
)

# -- verify ----------------------------------------------------------------------------------


class Diagnostic(Strict):
    """One compiler, linker or test failure, as the model will be shown it."""

    tool: Literal["gcc", "clang", "msvc", "linker", "cmake", "test", "other"]
    severity: Literal["error", "warning", "fatal", "failure"] = "error"
    path: str | None = None
    line: int | None = None
    column: int | None = None
    code: str | None = Field(default=None, description="e.g. C2065, LNK2019, -Wunused-variable.")
    message: str
    context: str = Field(default="", description="The few lines that follow (notes, source excerpt, carets).")


class StepResult(Strict):
    """One build or test command's outcome."""

    phase: Literal["build", "test"]
    command: list[str]
    returncode: int | None
    timed_out: bool = False
    seconds: float
    output_tail: str = Field(default="", description="The last part of stdout+stderr, secrets redacted.")
    diagnostics: list[Diagnostic] = Field(default_factory=list)
    failed_tests: list[str] = Field(default_factory=list, description="Failing tests named in the output.")
    preexisting: list[str] = Field(default_factory=list,
                                   description="Those of its failures that the base commit had too (`baseline`).")
    known_failure: bool = Field(default=False, description="It failed only as on the base commit: not the change's.")

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.returncode == 0

    @property
    def passed(self) -> bool:
        """Passed, or failed exactly as it did before any edit (pre-existing failures only)."""
        return self.ok or self.known_failure


class VerifyResult(Strict):
    """A whole build-then-test round: stops at the first failing step."""

    round: int
    steps: list[StepResult] = Field(default_factory=list)
    feedback: str = Field(default="", description="Trimmed diagnostics for the model; empty when all passed.")

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(step.passed for step in self.steps)

    @property
    def failed_phase(self) -> str | None:
        for step in self.steps:
            if not step.passed:
                return step.phase
        return None


# -- the model's answer ----------------------------------------------------------------------


class FixProposal(Strict):
    """The model's final structured answer (the `finish` tool's input)."""

    status: Literal["fixed", "cannot_fix"]
    root_cause: str
    explanation: str
    fix_summary: str = ""
    confidence: Literal["low", "medium", "high"]
    risk: Literal["low", "medium", "high"]
    guard_only: bool = Field(description="True when the patch only adds a check without addressing why.")
    regression_test: RegressionTest | None = Field(default=None, description="The test that reproduces the crash.")


# -- tool servers ----------------------------------------------------------------------------


class ToolServerCall(Strict):
    """One call of a tool server's tool by the model, as the PR body and the sticky comment list it."""

    server: str
    tool: str
    seconds: float
    status: Literal["ok", "error", "timeout", "failed", "refused"]
    result_chars: int = Field(default=0, description="Characters of the result before it was cut.")
    trimmed: bool = False


class ToolServerUse(Strict):
    """The run's tool servers: per server one line (its tools, or why it did not start), and every call."""

    servers: dict[str, str] = Field(default_factory=dict)
    calls: list[ToolServerCall] = Field(default_factory=list)


# -- the run ---------------------------------------------------------------------------------


class BuildFolderUse(Strict):
    """Where the run built: its own `build/` in the checkout, or a kept `[fix] build_dir` folder, and how."""

    key: str | None = Field(default=None, description="<build_dir>/<key>; None: in the checkout.")
    state: Literal["in-checkout", "new", "reused", "reset", "fresh"]
    reason: str = Field(default="", description="Why it was reset or fresh.")
    compiler_cache: str = "off"


class RoundTime(Strict):
    round: int
    build_seconds: float = 0.0
    test_seconds: float = 0.0


class TimeSplit(Strict):
    """Where the wall clock went: builds, tests, the model (with its tool calls); the rest is crashfix and git."""

    build_seconds: float = 0.0
    test_seconds: float = 0.0
    model_seconds: float = 0.0
    regression_seconds: float = Field(default=0.0, description="The regression test on the base and the fix.")
    builds: int = Field(default=0, description="Rounds whose build started (the base commit's is round 0).")
    rounds: list[RoundTime] = Field(default_factory=list)

FixStatus = Literal["fix-proposed", "needs-human", "refused", "skipped", "dry-run", "local"]


class TokenUse(Strict):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    turns: int = 0
    cost_usd: float | None = Field(default=None, description="None when the model's price is unknown.")


class FixOutcome(Strict):
    """Everything a fix run did: rendered into the PR body, the issue comment, the job summary, `--json`."""

    status: FixStatus
    reason: str = Field(default="", description="One line: why it stopped, or what it delivered.")
    issue_number: int | None = None
    repository: str | None = None
    signature: str | None = None
    crash_title: str = ""
    trigger: str = ""
    branch: str | None = None
    base_commit: str | None = None
    commit: str | None = None
    pull_number: int | None = None
    pull_url: str | None = None
    proposal: FixProposal | None = None
    changed_files: list[str] = Field(default_factory=list)
    diff_stats: str | None = None
    diff: str = ""
    rounds: list[VerifyResult] = Field(default_factory=list)
    located: list[str] = Field(default_factory=list, description="Files shown to the model up front.")
    tool_calls: dict[str, int] = Field(default_factory=dict)
    usage: TokenUse = Field(default_factory=TokenUse)
    tool_servers: ToolServerUse | None = Field(default=None, description="Set when [[fix.mcp]] servers were used.")
    seconds: float = 0.0
    time_split: TimeSplit = Field(default_factory=TimeSplit)
    build_folder: BuildFolderUse | None = None
    retry_hint: str = ""
    baseline: BaselineSummary | None = Field(default=None, description="The base commit's build and tests.")
    regression: RegressionCheck | None = Field(default=None, description="The model's regression test, if run.")
    verification: VerificationLevel | None = Field(default=None, description="Set by the run; see `level`.")

    @property
    def level(self) -> VerificationLevel:
        """What the fix reached: set by the run, else derived from the last round (records of older runs)."""
        if self.verification is not None:
            return self.verification
        return "built-and-tests-pass" if bool(self.rounds) and self.rounds[-1].ok else "not-verified"

    @property
    def level_text(self) -> str:
        return LEVEL_TEXT[self.level]

    @property
    def verified(self) -> bool:
        return bool(self.rounds) and self.rounds[-1].ok and self.level != "not-verified"
