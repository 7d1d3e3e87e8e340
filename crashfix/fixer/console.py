"""`crashfix fix` on a terminal: a line per phase as it happens, a live line during long builds,
the first diagnostics when it failed, and an exit code that says how it ended.

Progress goes to stderr (so `--json` output on stdout stays one JSON document), in plain
ASCII or whatever the stream's encoding can hold: a Windows console on cp1252 prints every
line, with `?` for what it cannot show, never a UnicodeEncodeError.

Exit codes of a local run (`--local`): 0 a verified fix is committed on its branch, 1 no
verified fix (the model found none, the build or tests still failed, a budget ran out),
2 a usage, config or checkout problem (an uncommitted file, no build commands), 3 the crash
file cannot be read, 66 a file is missing, 70 an internal error, 130 interrupted. A run for
a GitHub issue reports its outcome on the issue and in the step output `status`; it exits 0
when that report was made, so the workflow's deliver step still runs.
"""

from __future__ import annotations

import os
import shlex
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

import click

from crashfix.fixer.models import FixOutcome
from crashfix.fixer.verify.diagnostics import format_diagnostic

if TYPE_CHECKING:
    from crashfix.fixer.job import FixOptions

HEARTBEAT_SECONDS = 12.0
SHOWN_DIAGNOSTICS = 6
EXIT_FIXED, EXIT_NOT_FIXED = 0, 1
_ASCII = str.maketrans({"—": "-", "–": "-", "−": "-", "·": ",", "…": "...", "→": "->", "×": "x",
                        "“": '"', "”": '"', "‘": "'", "’": "'"})
_WIDTH = max(len(phase) for phase in ("Gate", "Locate", "Analyse", "Build & test", "Deliver"))


def safe(text: str, stream: TextIO | None = None) -> str:
    """`text` as `stream` can print it: common punctuation as ASCII, anything else its encoding lacks as `?`."""
    encoding = getattr(stream or sys.stderr, "encoding", None) or "ascii"
    text = text.translate(_ASCII)
    try:
        return text.encode(encoding, errors="replace").decode(encoding, errors="replace")
    except LookupError:
        return text.encode("ascii", errors="replace").decode("ascii")


def exit_code(outcome: FixOutcome, local: bool) -> int:
    """0 when the run ended with a verified fix; 1 when not (local runs: GitHub runs report it on the issue)."""
    if not local:
        return EXIT_FIXED
    fixed = outcome.status in ("local", "fix-proposed", "dry-run") and outcome.commit is not None and outcome.verified
    return EXIT_FIXED if fixed else EXIT_NOT_FIXED


def first_diagnostics(outcome: FixOutcome, limit: int = SHOWN_DIAGNOSTICS) -> list[str]:
    """The last round's first errors (`path:line: message`), or the end of its output when none was recognised."""
    if not outcome.rounds or outcome.rounds[-1].ok:
        return []
    last = outcome.rounds[-1]
    step = next(s for s in last.steps if not s.ok)
    head = f"round {last.round}: {step.phase} failed: {shlex.join(step.command)[:160]}"
    errors = [d for d in step.diagnostics if d.severity != "warning"] or step.diagnostics
    if errors:
        shown = [format_diagnostic(d, 0)[:300] for d in errors[:limit]]
        more = [f"  [... {len(errors) - limit} more]"] if len(errors) > limit else []
        return [head, *("  " + line for line in shown), *more]
    tail = [line[:300] for line in step.output_tail.rstrip().splitlines()[-limit:]]
    return [head, *("  | " + line for line in tail)] if tail else [head]


class Console:
    """Prints the run as it goes: subscribed to the phases (`Progress`), the model's tool calls and build steps."""

    def __init__(self, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic,
                 heartbeat: float = HEARTBEAT_SECONDS) -> None:
        self.stream = stream or sys.stderr
        self.clock = clock
        self.heartbeat = heartbeat
        self.started = clock()
        self._lock = threading.Lock()
        self._last: dict[str, tuple[str, str]] = {}
        self._phase_started: dict[str, float] = {}
        self._mark = self.started  # when the last phase ended: where the next one's time starts
        self._step: tuple[str, str, float] | None = None  # phase, command, started
        self._said = 0.0  # when the last line was printed
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def say(self, line: str) -> None:
        with self._lock:
            self._said = self.clock()
            try:
                self.stream.write(safe(line, self.stream) + "\n")
                self.stream.flush()
            except (OSError, ValueError):  # a closed or broken terminal must not end the run
                pass

    def _stamp(self) -> str:
        return f"[{self.clock() - self.started:7.1f}s]"

    def phase(self, phase: str, state: str, detail: str = "") -> None:
        """A phase changed (`Progress.set`): one line, with how long the phase took when it ends."""
        self._step = None
        before = self._last.get(phase)
        if before == (state, detail) or (phase == "Analyse" and state == "running" and before
                                          and before[0] == "running"):
            return  # the model's tool calls have lines of their own (`event`)
        self._last[phase] = (state, detail)
        now = self.clock()
        began = self._phase_started.setdefault(phase, self._mark)
        took = f" ({now - began:.1f} s)" if state in ("done", "failed") else ""
        if state in ("done", "failed", "skipped"):
            self._mark = now
        text = " ".join(detail.split())[:160]
        self.say(f"{self._stamp()} {phase:<{_WIDTH}}  {state:<7}  {text}{took}".rstrip())

    def event(self, message: str) -> None:
        """A model tool call."""
        self.say(f"{'':11}   model: {' '.join(message.split())[:140]}")

    def step(self, phase: str, command: list[str]) -> None:
        """A build or test command starts; the ticker says it still runs every `heartbeat` seconds."""
        shown = shlex.join(command)
        self._step = (phase, shown if len(shown) <= 120 else shown[:117] + "...", self.clock())
        self.say(f"{'':11}   {phase}: {self._step[1]}")
        if self._ticker is None:
            self._ticker = threading.Thread(target=self._tick, name="crashfix-console", daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(min(1.0, self.heartbeat)):
            step = self._step
            if step is not None and self.clock() - self._said >= self.heartbeat:
                phase, command, began = step
                self.say(f"{self._stamp()} {'':<{_WIDTH}}  {phase}: still running after "
                         f"{self.clock() - began:.0f} s: {command}")

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=2)

    def finished(self, outcome: FixOutcome) -> None:
        """On failure, the first diagnostics: what a developer needs to see without `--json`."""
        for line in first_diagnostics(outcome):
            self.say(line)


def run_fix_command(options: FixOptions, *, as_json: bool, verbose: bool) -> int:
    """The body of `crashfix fix`: run, publish, notify, print; returns the exit code."""
    from crashfix import logs, paths
    from crashfix.actions import workflow
    from crashfix.fixer.job import build_job, publish
    from crashfix.fixer.report import after_fix, terminal_summary
    from crashfix.fixer.run import run_fix

    logs.setup(paths.state_dir(), verbose=verbose)
    issue = options.issue
    console = Console()
    try:
        with workflow.group(f"crashfix fix #{issue}" if issue else "crashfix fix", os.environ):
            with workflow.commands_off(os.environ):  # the log may quote the model: no `::` line is obeyed
                job = build_job(options, os.environ)  # the config is read here, once: a build may rewrite the file
                job.on_event, job.on_progress, job.on_step = console.event, console.phase, console.step
                outcome = run_fix(job)
                console.finished(outcome)
    finally:
        console.close()
    publish(outcome, os.environ, handed_over=options.bundle_out is not None)
    if outcome.status == "needs-human" and workflow.in_actions(os.environ):
        workflow.error(f"crashfix: no verified fix for #{issue}: {outcome.reason}", os.environ)
    if not options.dry_run and options.bundle_out is None:  # the deliver job sends the message for the split workflow
        after_fix(outcome, os.environ, job.notify)  # a chat message, if configured
    if as_json:  # JSON escapes newlines: no line of it can start a workflow command, and scripts parse it
        click.echo(outcome.model_dump_json(indent=2))
    else:
        with workflow.commands_off(os.environ):
            click.echo(safe(terminal_summary(outcome), sys.stdout))
    return exit_code(outcome, options.local)
