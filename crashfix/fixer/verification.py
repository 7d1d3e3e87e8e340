"""The fix run's verification beyond one build-and-test round: the baseline, the regression test, the level.

`run._Run` holds one `Verification`: it establishes the baseline before the model's first edit,
adds what the model must know to the task (the base's state; the request for a regression test),
judges each round's steps against the baseline, and after a round passes runs the declared
regression test and says whether the loop ends or the model gets another round.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from crashfix.config import FixSettings
from crashfix.fixer.models import FixOutcome, FixProposal, RegressionCheck, RegressionTest, StepResult, VerifyResult
from crashfix.fixer.regression import RegressionRunner, level, request_text, retry_text
from crashfix.fixer.test_framework import wanted
from crashfix.fixer.verify.baseline import Baseline, establish
from crashfix.fixer.verify.build_folder import WarmBuild
from crashfix.fixer.verify.diagnostics import feedback_text

log = logging.getLogger(__name__)

Verdict = Literal["accept", "repair", "stop"]


@dataclass
class Verification:
    checkout: Path
    settings: FixSettings
    environ: Mapping[str, str]
    outcome: FixOutcome
    secret_values: Iterable[str] = ()
    clock: Callable[[], float] = time.monotonic
    baseline: Baseline | None = None
    ask_for_test: bool = False
    why_test: str = ""
    _checked: dict[str, RegressionCheck] = field(default_factory=dict)
    _declared: RegressionTest | None = None  # a repair's `finish` need not declare the test again
    warm: WarmBuild | None = None  # the run's build folder: the baseline builds where the rounds will
    on_step: Callable[[str, list[str]], None] | None = None  # the terminal's live line, for the baseline too

    def start(self, base_commit: str, deadline: float | None) -> str:
        """Build and test the base commit (or reuse its cached result); one line for the progress table."""
        self.baseline = establish(self.checkout, self.settings, self.environ, base_commit,
                                  secret_values=self.secret_values, deadline=deadline, clock=self.clock,
                                  warm=self.warm, on_step=self.on_step)
        summary = self.outcome.baseline = self.baseline.summary()
        self.ask_for_test, self.why_test = wanted(self.checkout, self.settings)
        state = "builds" if summary.built else "does NOT build"
        failures = f", {len(summary.preexisting)} pre-existing test failure(s)" if summary.preexisting else ""
        source = "cached result" if summary.cached else f"{summary.seconds:.0f} s"
        return f"base commit {state}{failures} ({source})"

    def task_extra(self) -> str:
        """The base commit's state and, when wanted, the request for a regression test."""
        note = self.baseline.prompt_note() if self.baseline is not None else ""
        return note + (request_text(self.why_test) if self.ask_for_test else "")

    def judge(self, index: int, step: StepResult, text: str) -> StepResult:
        return self.baseline.judge(index, step, text) if self.baseline is not None else step

    def stuck_on_base_build(self, result: VerifyResult) -> bool:
        """The round failed to build with only the errors the base commit already had: nothing more to learn."""
        return self.baseline is not None and not self.baseline.builds and self.baseline.only_old_build_errors(result)

    def after_pass(self, result: VerifyResult, proposal: FixProposal, runner: RegressionRunner,
                   rounds_left: int) -> tuple[Verdict, str]:
        """A round passed: run the declared regression test; accept, or ask for another round (the message)."""
        required = self.settings.regression_test == "required"
        self._declared = proposal.regression_test or self._declared
        test = self._declared if self.settings.regression_test != "off" else None
        if test is None:
            self.outcome.regression = RegressionCheck(detail="no regression test was declared") \
                if self.ask_for_test else None
        else:
            check, failing = runner.on_fix(test)
            if failing is not None:  # its own test fails on its fix: a failed round like any other
                result.steps.append(failing)
                result.feedback = ("The regression test you declared fails on your fix; it must pass with it.\n"
                                   + feedback_text(result))
                self.outcome.regression = check
                return ("repair" if rounds_left else "stop"), ""
            key = repr((test.model_dump(), sorted(runner.workspace.verified_contents().items())))
            if check.on_fix == "passed":
                check = self._checked.get(key) or runner.on_base(check)
                self._checked[key] = check
            self.outcome.regression = check
        if not required or (self.outcome.regression is not None and self.outcome.regression.reproduced):
            return "accept", ""
        if rounds_left:
            return "repair", retry_text(self.outcome.regression, rounds_left)
        return "stop", ""

    def done_detail(self, number: int) -> str:
        """The progress row once the rounds are over: the level, and the base's failures left out."""
        base = self.outcome.baseline
        left_out = (f"; {len(base.preexisting)} pre-existing test failure(s) left out"
                    if base is not None and base.preexisting else "")
        return f"round {number}: {self.outcome.level_text}{left_out}"

    def conclude(self) -> None:
        """The verification level; with `required`, a fix that did not reach it is not delivered as verified."""
        outcome = self.outcome
        outcome.verification = level(outcome)
        if (self.settings.regression_test == "required" and outcome.verification != "reproduced-and-fixed"
                and outcome.status in ("fix-proposed", "local")):
            detail = outcome.regression.detail if outcome.regression is not None else "no regression test"
            outcome.status = "needs-human"
            outcome.verification = "not-verified"
            outcome.reason = (f"regression_test = required, but no test reproduced the crash ({detail}); the change "
                              "builds and the tests pass, but it is not delivered as verified")
            outcome.retry_hint = ("Add a test that reproduces the crash by hand, or set `regression_test = \"auto\"` "
                                  "under [fix] in .github/crashfix.toml and add the label `reanalyze`.")
