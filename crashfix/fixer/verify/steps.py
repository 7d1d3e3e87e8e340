"""The fixer's verify step: build and test a checkout the model edited, and say what broke.

The commands come from the project's `[fix] build` / `[fix] test` settings, but what they
compile is code a model just wrote. So each runs with an environment scrubbed of every
credential (crashfix's own tokens, action inputs, anything whose name or value looks
secret), contained (every process it starts ends when it ends, `procs.run(contain=True)`),
under a timeout, and whatever it prints is redacted before it is stored, parsed or shown.
"""

from __future__ import annotations

import codecs
import os
import shutil
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Literal

from crashfix import procs
from crashfix.analysis.textclean import decode
from crashfix.config import FixSettings
from crashfix.errors import CrashfixError, UsageError
from crashfix.fixer.models import Diagnostic, StepResult, VerifyResult
from crashfix.fixer.verify.build_folder import WarmBuild
from crashfix.fixer.verify.diagnostics import feedback_text, parse_diagnostics, relative_text, strip_ansi
from crashfix.scrub import redact, scrubbed_environment, secret_values_in

TAIL_CHARS = 8000
MAX_DIAGNOSTICS = 50

# Diagnostics are parsed in English; ctest shows a failing test's output.
_OVERRIDES = {"LANGUAGE": "en_US:en", "VSLANG": "1033"}
_DEFAULTS = {"CTEST_OUTPUT_ON_FAILURE": "1"}


class NoBuildCommandsError(UsageError):
    """Nothing to verify with: the project has not said how it is built or tested."""

    def __init__(self) -> None:
        super().__init__(
            "no build or test commands are configured for crashfix fix",
            hint="set [fix] build and/or test in .github/crashfix.toml, e.g. build = [[\"cmake\", \"-S\", "
                 "\"{checkout}\", \"-B\", \"{checkout}/build\"], [\"cmake\", \"--build\", \"{checkout}/build\"]] "
                 "and test = \"ctest --test-dir {checkout}/build --output-on-failure\"",
        )


def require_commands(settings: FixSettings) -> None:
    """Fail before any model call, not after it, when there is nothing to verify a fix with."""
    if not any(settings.build) and not any(settings.test):
        raise NoBuildCommandsError()


def decode_output(data: bytes) -> str:
    """A child's bytes as text: UTF-8, else line by line with the Windows OEM page or cp1252 for what is not."""
    if not data:
        return ""
    if data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or data[:4096].count(0) > 16:
        return decode(data)  # UTF-16 from a Windows tool, or a BOM
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    fallback = "oem" if os.name == "nt" else "cp1252"
    lines = []
    for line in data.split(b"\n"):
        try:
            lines.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append(line.decode(fallback, errors="replace"))
    return "\n".join(lines)


def _tail(text: str, limit: int = TAIL_CHARS) -> str:
    """The end of the output, from a line start: where a failing step says why it stopped."""
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    newline = cut.find("\n")
    if 0 <= newline < 200:
        cut = cut[newline + 1:]
    return f"[... {len(text) - len(cut)} earlier characters omitted]\n{cut}"


def _keep_first(diagnostics: list[Diagnostic], limit: int = MAX_DIAGNOSTICS) -> list[Diagnostic]:
    """At most `limit`, errors before warnings, in output order: warnings must not crowd errors out."""
    if len(diagnostics) <= limit:
        return diagnostics
    ranked = sorted(range(len(diagnostics)), key=lambda i: (diagnostics[i].severity == "warning", i))[:limit]
    return [diagnostics[i] for i in sorted(ranked)]


def _environment(environ: Mapping[str, str], keep: Sequence[str], secrets: list[str]) -> dict[str, str]:
    env = scrubbed_environment(environ, keep, secrets)
    present = {name.upper() for name in env}
    env.update(_OVERRIDES)
    env.update({name: value for name, value in _DEFAULTS.items() if name not in present})
    return env


def _lookup(env: Mapping[str, str], name: str) -> str | None:
    return next((value for key, value in env.items() if key.upper() == name), None)


def _resolve(argv0: str, checkout: Path, env: Mapping[str, str]) -> str | None:
    """The program to start: a bare name through the child's PATH, a relative path from the checkout."""
    if os.sep in argv0 or "/" in argv0:
        path = Path(argv0) if Path(argv0).is_absolute() else checkout / argv0
        return str(path) if path.exists() else None
    return shutil.which(argv0, path=_lookup(env, "PATH") or os.defpath)


def _not_started(phase: Literal["build", "test"], argv: list[str], message: str) -> StepResult:
    return StepResult(phase=phase, command=argv, returncode=None, seconds=0.0, output_tail=message,
                      diagnostics=[Diagnostic(tool="other", message=message)])


def _placeholders(part: str, checkout: Path, folder: Path | None) -> str:
    for path, name in ((folder, "{build_dir}"), (checkout, "{checkout}")):
        if path is not None and len(str(path)) > 1:
            part = part.replace(str(path), name)
    return part


# Looks at a finished step and its whole (redacted) output: the baseline's comparison (`baseline.Judge`).
StepJudge = Callable[[int, StepResult, str], StepResult]


def _run_step(phase: Literal["build", "test"], argv: list[str], checkout: Path, env: dict[str, str],
              timeout: float, secrets: list[str], judge: Callable[[StepResult, str], StepResult] | None = None,
              folder: Path | None = None) -> StepResult:
    """Run one command; a missing program or a failure to start is a failed step, not an exception.

    The command is shown (to the model, in the PR) with `{build_dir}` and `{checkout}` for this machine's
    folders, as it was configured."""
    shown = [_placeholders(redact(part, secrets), checkout, folder) for part in argv]
    program = _resolve(argv[0], checkout, env)
    if program is None:
        hint = (" - a list of strings is ONE command and its arguments; write several commands as a list of "
                'lists, e.g. build = [["cmake", "-S", "{checkout}", "-B", "build"], ["cmake", "--build", "build"]]'
                if " " in argv[0].strip() else "")
        return _not_started(phase, shown, f"command not found: {shown[0]!r} (not on the build environment's "
                                          f"PATH and not a file in the checkout){hint}")
    try:
        completed = procs.run([program, *argv[1:]], timeout=timeout, env=env, cwd=checkout, contain=True)
    except OSError as error:
        return _not_started(phase, shown, f"could not start {shown[0]!r}: {error.strerror or error}")
    stdout, stderr = decode_output(completed.stdout), decode_output(completed.stderr)
    joined = stdout + ("\n" if stdout and not stdout.endswith("\n") and stderr else "") + stderr
    text = redact(strip_ansi(joined), secrets)
    step = StepResult(
        phase=phase, command=shown, returncode=completed.returncode, timed_out=completed.timed_out,
        seconds=round(completed.seconds, 3), output_tail=_tail(relative_text(text, checkout)),
        diagnostics=_keep_first(parse_diagnostics(text, checkout)) if not completed.ok else [],
    )
    return judge(step, text) if judge is not None else step


def run_round(
    checkout: Path,
    settings: FixSettings,
    environ: Mapping[str, str],
    round_number: int,
    *,
    secret_values: Iterable[str] = (),
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    judge: StepJudge | None = None,
    keep_going: bool = False,
    warm: WarmBuild | None = None,
    on_step: Callable[[str, list[str]], None] | None = None,
) -> VerifyResult:
    """Run the build commands, then (if they all passed) the test commands, stopping at the first failure.

    `judge(index, step, output)` may mark a failure as the base commit's own (`baseline`): then the
    round goes on. `keep_going`: every test command runs even after one failed (the baseline run).
    `warm`: the run's build folder (`{build_dir}`) and compiler cache (`build_folder.warm_build`).
    """
    plan: list[tuple[Literal["build", "test"], tuple[str, ...], float]] = [
        *(("build", command, settings.build_timeout_seconds) for command in settings.build if command),
        *(("test", command, settings.test_timeout_seconds) for command in settings.test if command),
    ]
    require_commands(settings)
    checkout = checkout.absolute()  # `{checkout}/build` must not depend on the caller's working directory
    if not checkout.is_dir():
        raise CrashfixError(f"cannot verify: the checkout {checkout} is not a directory")
    secrets = [*secret_values, *secret_values_in(environ, settings.keep_env)]
    env = _environment(environ, settings.keep_env, secrets)
    warm = warm or WarmBuild(folder=None)
    env.update(warm.env)
    steps: list[StepResult] = []
    for index, (phase, command, step_timeout) in enumerate(plan):
        argv = warm.expand(command, checkout)
        timeout = step_timeout if deadline is None else min(step_timeout, deadline - clock())
        if timeout <= 0:
            steps.append(StepResult(phase=phase, command=[redact(part, secrets) for part in argv], returncode=None,
                                    timed_out=True, seconds=0.0,
                                    output_tail="not started: the run's time budget (max_wall_seconds) is used up"))
            break
        if on_step is not None:  # e.g. the terminal's live line during a long build
            on_step(phase, [redact(part, secrets) for part in argv])
        step = _run_step(phase, argv, checkout, env, timeout, secrets, None if judge is None else partial(judge, index),
                         warm.folder)
        steps.append(step)
        if not step.passed and not (keep_going and phase == "test"):
            break
    result = VerifyResult(round=round_number, steps=steps)
    if not result.ok:
        result.feedback = feedback_text(result)
    return result
