"""A test that crashed before and passes after: run the model's regression test on the fix and on the base.

Passing the project's tests does not show the crash is gone when no test reaches the crashing
code. So when the model declares a regression test (`FixProposal.regression_test`), it runs:

1. on the fix, as built by the round that passed: it must pass;
2. on the base commit with only the test files applied: every other changed file is put back
   to its base bytes (a file the fix added is removed), the build runs, then the test: it must
   fail or crash;
3. the model's bytes are put back, checked (`Workspace.verified_contents`), and the build runs
   again, so the build folder holds the fix.

Every command goes through `verify.steps.run_round`: scrubbed environment, contained processes,
timeouts, `{checkout}` the only substitution. The result decides the verification level.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from string import Template

from crashfix.analysis.crash_codes import describe_signal
from crashfix.config import FixSettings
from crashfix.errors import CrashfixError
from crashfix.fixer.agent.session import prompt_file
from crashfix.fixer.checkout import files
from crashfix.fixer.checkout.workspace import Workspace
from crashfix.fixer.models import (
    FixOutcome,
    RegressionCheck,
    RegressionTest,
    StepResult,
    VerificationLevel,
    VerifyResult,
)
from crashfix.fixer.test_framework import refusal
from crashfix.fixer.verify.build_folder import WarmBuild
from crashfix.fixer.verify.steps import run_round
from crashfix.untrusted import inline, quote

_CRASH_WORDS = ("crashed", "Sanitizer", "uncaught exception", "assertion failed", "was killed")


class CheckoutNotRestored(CrashfixError):
    """After the base-commit run, a file does not hold the model's bytes again."""


class RegressionRunner:
    """Runs one declared regression test the way builds run; remembers nothing between calls."""

    def __init__(self, workspace: Workspace, settings: FixSettings, environ: Mapping[str, str], *,
                 secret_values: Iterable[str] = (), deadline: float | None = None,
                 clock: Callable[[], float] = time.monotonic, warm: WarmBuild | None = None) -> None:
        self.workspace, self.settings, self.environ, self.warm = workspace, settings, environ, warm
        self.secrets, self.deadline, self.clock = tuple(secret_values), deadline, clock

    def _run(self, build: bool, command: list[str] | None) -> VerifyResult:
        update = {"build": self.settings.build if build else (), "test": (tuple(command),) if command else ()}
        return run_round(self.workspace.root, self.settings.model_copy(update=update), self.environ, 0,
                         secret_values=self.secrets, deadline=self.deadline, clock=self.clock, warm=self.warm)

    def on_fix(self, test: RegressionTest) -> tuple[RegressionCheck, StepResult | None]:
        """Validate and run the test on the fix (already built); a failing run's step, for the model."""
        started = self.clock()
        why = refusal(test, self.workspace.changed_paths(), self.workspace.root, self.settings)
        if why is not None:
            return RegressionCheck(test=test, detail=f"not run: {why}"), None
        result = self._run(False, test.command)
        step = result.steps[-1]
        check = RegressionCheck(test=test, on_fix="passed" if step.ok else "failed",
                                seconds=round(self.clock() - started, 3))
        check.detail = (f"`{_shown(step)}` passes on the fix" if step.ok
                        else f"`{_shown(step)}` fails on the fix ({_status(step)})")
        return check, None if step.ok else step

    def on_base(self, check: RegressionCheck) -> RegressionCheck:
        """Build the base commit with only the test files applied and run the test there; then restore the fix."""
        assert check.test is not None
        started = self.clock()
        fix_files = [path for path in self.workspace.changed_paths() if path not in check.test.files]
        self.workspace.verified_contents()  # the model's bytes are in place before anything is swapped
        try:
            _put(self.workspace, fix_files, base=True)
            built = self._run(True, None)
            tested = self._run(False, check.test.command) if built.ok else None
        finally:
            _put(self.workspace, fix_files, base=False)
        self.workspace.verified_contents()  # and in place again: the seal commits exactly them
        rebuilt = self._run(True, None)
        spent = round(check.seconds + self.clock() - started, 3)
        if not rebuilt.ok:
            raise CheckoutNotRestored("the fix no longer builds after the regression test's base-commit run",
                                      "look for a build step that depends on files outside the source tree")
        if tested is None:
            return check.model_copy(update={"on_base": "did-not-build", "seconds": spent, "detail": (
                f"{check.detail}; the base commit with only the test files applied does not build, so the test "
                "could not show the crash there")})
        step = tested.steps[-1]
        said_crash = " ".join(d.message for d in step.diagnostics)
        crashed = _signal(step.returncode) is not None or any(word in said_crash for word in _CRASH_WORDS) or (
            step.returncode is not None and step.returncode >= 0xC0000000)  # a Windows exception code
        state = "passed" if step.ok else ("crashed" if crashed else "failed")
        said = {"passed": "passes on the base commit too (the crash is not reproduced)",
                "crashed": f"crashes on the base commit ({_status(step)})",
                "failed": f"fails on the base commit ({_status(step)})"}[state]
        return check.model_copy(update={"on_base": state, "seconds": spent, "detail": f"{check.detail}; {said}"})


def _put(workspace: Workspace, paths: list[str], *, base: bool) -> None:
    """Write each file's base bytes (`base`) or the model's; a file the fix created is removed on the base."""
    for relative in paths:
        try:
            _put_one(workspace, relative, base)
        except (OSError, files.FileRefused) as error:
            where = "the base commit's" if base else "the model's"
            raise CheckoutNotRestored(f"could not put {where} bytes into {relative} for the regression test: "
                                      f"{getattr(error, 'strerror', None) or error}",
                                      "look for a build step that replaces or links source files") from None


def _put_one(workspace: Workspace, relative: str, base: bool) -> None:
    file = workspace.root / relative
    want = workspace.originals.get(relative) if base else workspace.written[relative]
    exists = os.path.lexists(file)
    if want is None:
        if exists:
            files.check(file, relative)  # a regular file, not a link leading elsewhere
            file.unlink()
        return
    if not exists:
        files.create(file, relative, want)
        return
    _, identity = files.read(file, relative, max(len(want), workspace.limits.max_file_bytes), workspace._is_inside)
    files.overwrite(file, relative, want, identity, workspace._is_inside)


def _shown(step: StepResult) -> str:
    text = " ".join(step.command)
    return inline(text if len(text) <= 160 else text[:157] + "...", 200).replace("`", "'")


def _signal(returncode: int | None) -> str | None:
    """The signal that ended a POSIX process: negative from Python, 128+N as the contained runner reports it."""
    if returncode is None or os.name == "nt":
        return None
    number = -returncode if returncode < 0 else (returncode - 128 if 128 < returncode <= 128 + 64 else 0)
    return describe_signal(number)[0] if number else None


def _status(step: StepResult) -> str:
    if step.timed_out:
        return "timed out"
    if step.returncode is None:
        return "could not start"
    signal = _signal(step.returncode)
    return f"exit status {step.returncode}" + (f", {signal}" if signal else "")


def level(outcome: FixOutcome) -> VerificationLevel:
    """What the fix reached: reproduced and fixed, built and tests pass, or not verified."""
    if not outcome.rounds or not outcome.rounds[-1].ok:
        return "not-verified"
    check = outcome.regression
    return "reproduced-and-fixed" if check is not None and check.reproduced else "built-and-tests-pass"


def request_text(why: str) -> str:
    """The task's paragraph asking for a regression test (`prompts/regression.md`)."""
    return Template(prompt_file("regression.md")).safe_substitute(why=why)


def retry_text(check: RegressionCheck | None, rounds_left: int) -> str:
    """`regression_test = required` and no reproducing test yet: what the model is told for another round."""
    what = "You declared no regression test." if check is None or check.test is None else check.detail
    return (f"Your change builds and the project's tests pass, but a regression test is required.\n"
            f"{quote('regression test result', what, kind='tool-output')}\n"
            "Add or extend a test that fails or crashes on the base commit (without your fix) and passes with it, "
            "then call `finish` again with `regression_test` naming its files and the command that runs just "
            f"that test. You have {rounds_left} more round(s).")
