"""The one place crashfix starts other programs (CDB, git, build and test commands, tool servers).

Every child runs from an argument list (never a shell string), with a timeout after
which the whole process tree is killed: a CDB stuck on a symbol server or a test that
hangs must not outlive its budget, nor leave grandchildren behind.

A contained child (`contain=True`: a build or test step, code crashfix did not write) ends
with everything it started, when it ends, success or not. On Linux it runs under
`reaper.py` (beside this file), a child subreaper that collects and kills whatever the step left behind, even
processes that left its group with `setsid`; on Windows in a Job Object that is terminated
(`windows.py`); elsewhere its process group is killed.

Tool servers are the one kind that lives on: they stay in crashfix's own process group and
are ended with their whole tree by the code that started them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    from anyio.abc import Process

_NEW_GROUP = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
_REAPER = Path(__file__).with_name("reaper.py")


@dataclass(frozen=True)
class Completed:
    """How a child ended, with everything it printed."""

    argv: tuple[str, ...]
    returncode: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.returncode == 0


def family(pid: int | psutil.Process) -> list[psutil.Process]:
    """A process and every descendant, children first (empty when it is gone).

    Given a psutil handle taken earlier, a process that has ended meanwhile counts as gone
    even if its pid was reused."""
    try:
        parent = pid if isinstance(pid, psutil.Process) else psutil.Process(pid)
        if not parent.is_running():
            return []
        return parent.children(recursive=True) + [parent]
    except psutil.NoSuchProcess:
        return []


def kill_tree(pid: int) -> None:
    """Kill a process and every descendant, children first; gone processes are fine."""
    kill_all(family(pid))


def kill_all(processes: list[psutil.Process]) -> None:
    """Kill processes found earlier (psutil checks each is still the same one); gone ones are fine."""
    targets = list(processes)
    for process in targets:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(targets, timeout=5)


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdin: bytes | None = None,
    contain: bool = False,
) -> Completed:
    """Run `argv`; after `timeout` seconds kill its whole tree and report `timed_out`.

    `contain`: also end every process it started when it ends (see the module's docstring);
    `argv[0]` must then be a path to the program.
    """
    started = time.monotonic()
    command = list(argv)
    flags = _NEW_GROUP
    job = None
    reaped = contain and sys.platform.startswith("linux")
    if contain and os.name == "nt":
        from crashfix.procs.windows import CREATE_SUSPENDED, Job

        job, flags = Job(), _NEW_GROUP | CREATE_SUSPENDED
    if reaped:
        command = [sys.executable, "-I", "-S", str(_REAPER), *command]
    process = subprocess.Popen(  # noqa: S603 - argv list, no shell
        command,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env) if env is not None else None,
        cwd=str(cwd) if cwd is not None else None,
        **({"creationflags": flags} if os.name == "nt" else {"start_new_session": True}),  # type: ignore[call-overload]
    )
    note = b""
    try:
        if job is not None:
            job.adopt(process)  # assigned while suspended: nothing it starts is outside the job
        stdout, stderr = process.communicate(input=stdin, timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        _stop(process, reaped)
        stdout, stderr = process.communicate()
        timed_out = True
    finally:
        if job is not None:
            note = job.close().encode()
        elif contain:
            _kill_group(process)  # whatever is still in its group (the reaper has swept its step already)
    return Completed(tuple(argv), None if timed_out else process.returncode, stdout or b"",
                     (stderr or b"") + note, timed_out, time.monotonic() - started)


def _stop(process: subprocess.Popen[bytes], reaped: bool) -> None:
    """Out of time: a reaper is asked to sweep its step first (SIGTERM), then whatever is left is killed."""
    if reaped:
        try:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            pass
    _kill_group(process)


async def open_pipes(argv: Sequence[str], *, env: Mapping[str, str], cwd: Path | None = None) -> Process:
    """Start a long-lived child that talks over stdin/stdout (an MCP tool server), for an anyio event loop.

    It gets exactly `env` (nothing inherited) and stays in crashfix's own process group: no new
    session or group, so whatever stops the run (Ctrl+C in a terminal, a cancelled job) stops it
    too. The caller ends it with `kill_tree` / `kill_all`.
    """
    import anyio  # only tool servers need an event loop

    return await anyio.open_process(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=dict(env), cwd=str(cwd) if cwd else None)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    kill_tree(process.pid)
    if os.name != "nt":
        try:
            os.killpg(process.pid, signal.SIGKILL)  # anything that escaped the tree walk
        except (ProcessLookupError, PermissionError):
            pass


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs (used to tell if a watcher is up)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def start(argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a helper that runs beside crashfix (the uploader's filing process); its stderr is piped back.

    It stays in crashfix's process group, so a Ctrl+C reaches it too; `stop` ends it.
    """
    return subprocess.Popen(  # noqa: S603 - argv list, no shell
        list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env=dict(env) if env is not None else None)


def stop(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Ask a helper to end, and kill it (with its children) if it has not after `grace` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        kill_tree(process.pid)
        process.wait(5)
