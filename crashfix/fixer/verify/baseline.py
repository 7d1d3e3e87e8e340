"""Baseline first: build and test the base commit before the model's first edit, and judge rounds against it.

A test that already fails on the base commit (a DNS lookup test on an offline runner) is not
the model's failure: shown to it as its own, it drives repair rounds until they run out.
So before any edit the base commit is built and tested once (every test command runs, even
after one fails), and each later failing test step is compared with the base's:

- named failures (`test_ids`: ctest, GoogleTest, Catch2, doctest, Boost.Test): the step failed
  only as before when every failing test it names failed on the base as well. A step that now
  names none although the base's did (a crash of the runner itself) is new.
- neither names a test: the step failed as before when the exit status (and timing out) is the
  same and so is the set of recognised error lines, numbers ignored. That is the assumption made
  for output crashfix cannot read: same status, same errors, same failure.

A step that failed only as before passes (`StepResult.known_failure`); a step with new failures
is shown to the model with the pre-existing tests' output cut out (`test_ids.without_tests`).
A base commit that does not build is reported; the model is told (its build errors are not its
own), and a round whose build fails with only those errors ends the loop: nothing could be
verified.

The result is cached per base commit and build/test configuration in crashfix's cache folder
(`CRASHFIX_CACHE_DIR`, else the per-user cache), not in the checkout or its `.git`: it outlives a
fresh clone and `git clean`, and it is where crashfix already keeps its per-commit symbol index.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shlex
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from crashfix.analysis.models import Strict
from crashfix.config import FixSettings
from crashfix.fixer.models import BaselineSummary, StepResult, VerifyResult
from crashfix.fixer.verify.build_folder import WarmBuild
from crashfix.fixer.verify.diagnostics import format_diagnostic, parse_diagnostics
from crashfix.fixer.verify.steps import _keep_first, _tail, run_round
from crashfix.fixer.verify.test_ids import failed_tests, without_tests

log = logging.getLogger(__name__)

FORMAT = 1
KEEP_FILES = 200
# [fix] settings that do not change what a build or a test does; every other one is in the cache key,
# so a setting added later (a build folder, a compiler launcher) invalidates cached baselines by default.
_NOT_BUILD_SETTINGS = frozenset({
    "model", "repair_rounds", "path_mappings", "uploader_login", "instructions_file", "context_tokens",
    "branch_prefix", "base_branch", "reanalyze_label", "fix_proposed_label", "needs_human_label", "budget",
    "mcp", "regression_test",
})
_NUMBERS = re.compile(r"\d+")


class BaselineRecord(Strict):
    """The cache file: the base commit's build and test result under one configuration."""

    format: int = FORMAT
    key: str
    base_commit: str
    result: VerifyResult
    seconds: float


def cache_folder(environ: Mapping[str, str]) -> Path:
    """`CRASHFIX_CACHE_DIR`, else the platform's per-user cache folder; `baseline/` in it."""
    configured = environ.get("CRASHFIX_CACHE_DIR")
    if configured:
        return Path(configured) / "baseline"
    if sys.platform == "win32" and environ.get("LOCALAPPDATA"):
        return Path(environ["LOCALAPPDATA"]) / "crashfix" / "cache" / "baseline"
    return Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "crashfix" / "baseline"


def baseline_key(base_commit: str, settings: FixSettings) -> str:
    """The base commit, the build/test settings, the platform and this format, hashed."""
    config = settings.model_dump(mode="json", exclude=set(_NOT_BUILD_SETTINGS))
    material = json.dumps({"format": FORMAT, "commit": base_commit, "config": config, "platform": sys.platform},
                          sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def _load(path: Path, key: str) -> BaselineRecord | None:
    """The cached record, or None when there is none or it is unreadable (then the baseline runs again)."""
    try:
        record = BaselineRecord.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, ValidationError) as error:
        log.warning("ignoring the cached baseline %s: %s", path, str(error).splitlines()[0])
        return None
    return record if record.key == key and record.format == FORMAT else None


def _save(path: Path, record: BaselineRecord) -> None:
    """Write atomically; a cache that cannot be written only means the next run builds the base again."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        partial.write_text(record.model_dump_json(), encoding="utf-8")
        os.replace(partial, path)
        kept = sorted(path.parent.glob("*.json"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for stale in kept[KEEP_FILES:]:
            stale.unlink(missing_ok=True)
    except OSError as error:
        log.warning("could not cache the baseline in %s: %s", path, error.strerror or error)


def _cacheable(result: VerifyResult) -> bool:
    """A result worth reusing: nothing timed out or was cut short by the run's time budget."""
    return bool(result.steps) and not any(step.timed_out for step in result.steps)


def _generic_failures(step: StepResult) -> set[str]:
    """A failing step's recognised errors, numbers ignored: the identity of output no test runner named."""
    return {_NUMBERS.sub("#", f"{d.path or ''}: {d.message}") for d in step.diagnostics if d.severity != "warning"}


@dataclass
class Baseline:
    """The base commit's result, and the judge that compares a round's steps with it."""

    record: BaselineRecord
    cached: bool
    path: Path
    checkout: Path

    @property
    def result(self) -> VerifyResult:
        return self.record.result

    @property
    def builds(self) -> bool:
        return not any(step.phase == "build" and not step.ok for step in self.result.steps)

    def _step(self, index: int) -> StepResult | None:
        steps = self.result.steps
        return steps[index] if index < len(steps) else None

    def preexisting(self) -> list[str]:
        """Failures before any edit, as people read them: test ids, else a command and its exit status."""
        found: list[str] = []
        for step in self.result.steps:
            if step.ok or step.phase != "test":
                continue
            found += step.failed_tests or [f"`{_short(step)}` ({_status(step)})"]
        return found

    def build_errors(self, limit: int = 5) -> list[str]:
        broken = next((step for step in self.result.steps if step.phase == "build" and not step.ok), None)
        if broken is None:
            return []
        errors = [d for d in broken.diagnostics if d.severity != "warning"][:limit]
        return [format_diagnostic(d, 0)[:300] for d in errors] or [f"`{_short(broken)}` ({_status(broken)})"]

    def summary(self) -> BaselineSummary:
        return BaselineSummary(base_commit=self.record.base_commit, cached=self.cached, cache_file=str(self.path),
                               built=self.builds, tested=any(s.phase == "test" for s in self.result.steps),
                               preexisting=self.preexisting(), build_errors=self.build_errors(),
                               seconds=self.record.seconds)

    # -- judging a round -------------------------------------------------------------------------

    def judge(self, index: int, step: StepResult, text: str) -> StepResult:
        """`step` (the `index`-th of the plan) with its failing tests named and, if any, the base's marked."""
        if step.ok:
            return step
        ids = failed_tests(text)
        step = step.model_copy(update={"failed_tests": ids})
        base = self._step(index)
        if step.phase != "test" or base is None or base.ok or (step.timed_out and step.seconds == 0):
            return step
        base_ids = set(base.failed_tests)
        if ids or base_ids:
            known = bool(ids) and set(ids) <= base_ids and step.timed_out == base.timed_out
            preexisting = [test for test in ids if test in base_ids]
        else:
            known = (step.returncode == base.returncode and step.timed_out == base.timed_out
                     and _generic_failures(step) == _generic_failures(base))
            preexisting = [f"`{_short(step)}` ({_status(step)}, as on the base commit)"] if known else []
        if known:
            return step.model_copy(update={"known_failure": True, "preexisting": preexisting})
        if not preexisting:
            return step
        shown, _ = without_tests(text, preexisting)  # what the model reads never names them
        return step.model_copy(update={"preexisting": preexisting, "output_tail": _tail(shown),
                                       "diagnostics": _keep_first(parse_diagnostics(shown, self.checkout))})

    def only_old_build_errors(self, result: VerifyResult) -> bool:
        """The round's build failed, the base's failed at the same command, and with no error the base lacked."""
        for index, step in enumerate(result.steps):
            if step.phase != "build" or step.ok:
                continue
            base = self._step(index)
            return (base is not None and base.phase == "build" and not base.ok and step.returncode == base.returncode
                    and not step.timed_out and _generic_failures(step) <= _generic_failures(base))
        return False

    def prompt_note(self) -> str:
        """What the model is told up front: the base builds or not, how many tests already fail (never which)."""
        if not self.builds:
            errors = "\n".join(self.build_errors())
            return ("\n## Before your change\nThe base commit does NOT build: these errors were there before any "
                    f"edit (from crashfix's own build of it):\n```\n{errors}\n```\nThey are not yours to fix "
                    "unless the crash needs it. Your change is built anyway; while these errors remain it cannot "
                    "be tested, and the result will say so.\n")
        count = len(self.preexisting())
        if not count:
            return ""
        return (f"\n## Before your change\ncrashfix built and tested the base commit: it builds, and {count} test "
                "failure(s) were there before any edit. They are not counted against your change and you will not "
                "be shown them; do not try to fix them.\n")


def _short(step: StepResult) -> str:
    text = shlex.join(step.command)
    return text if len(text) <= 120 else text[:117] + "..."


def _status(step: StepResult) -> str:
    if step.timed_out:
        return "timed out"
    return "not started" if step.returncode is None else f"exit {step.returncode}"


def establish(checkout: Path, settings: FixSettings, environ: Mapping[str, str], base_commit: str, *,
              secret_values: Iterable[str] = (), deadline: float | None = None,
              clock: Callable[[], float] = time.monotonic, warm: WarmBuild | None = None,
              on_step: Callable[[str, list[str]], None] | None = None) -> Baseline:
    """The cached baseline for this commit and configuration, else a fresh build and test of the checkout."""
    key = baseline_key(base_commit, settings)
    path = cache_folder(environ) / f"{key}.json"
    checkout = checkout.absolute()
    cached = _load(path, key)
    if cached is not None:
        return Baseline(cached, True, path, checkout)
    started = clock()

    def judge(index: int, step: StepResult, text: str) -> StepResult:  # names the failing tests, nothing more
        return step if step.ok else step.model_copy(update={"failed_tests": failed_tests(text)})

    result = run_round(checkout, settings, environ, 0, secret_values=secret_values, deadline=deadline, clock=clock,
                       judge=judge, keep_going=True, warm=warm, on_step=on_step)
    record = BaselineRecord(key=key, base_commit=base_commit, result=result, seconds=round(clock() - started, 3))
    if _cacheable(result):
        _save(path, record)
    return Baseline(record, False, path, checkout)
