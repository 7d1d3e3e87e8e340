"""The one place crashfix starts other programs (CDB, git, build and test commands, tool servers).

Every child runs from an argument list (never a shell string), with a timeout after
which the whole process tree is killed: a CDB stuck on a symbol server or a test that
hangs must not outlive its budget, nor leave grandchildren behind. Tool servers are the
one kind that lives on: they stay in crashfix's own process group and are ended with
their whole tree by the code that started them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    from anyio.abc import Process

_NEW_GROUP = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)


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
) -> Completed:
    """Run `argv`; after `timeout` seconds kill its whole tree and report `timed_out`."""
    started = time.monotonic()
    popen_kwargs: dict[str, object] = {}
    if os.name == "nt":
        popen_kwargs["creationflags"] = _NEW_GROUP
    else:
        popen_kwargs["start_new_session"] = True  # its own process group, killable as a whole
    process = subprocess.Popen(  # noqa: S603 - argv list, no shell
        list(argv),
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env) if env is not None else None,
        cwd=str(cwd) if cwd is not None else None,
        **popen_kwargs,  # type: ignore[call-overload]
    )
    try:
        stdout, stderr = process.communicate(input=stdin, timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        _kill_group(process)
        stdout, stderr = process.communicate()
        timed_out = True
    return Completed(tuple(argv), None if timed_out else process.returncode, stdout or b"", stderr or b"",
                     timed_out, time.monotonic() - started)


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
