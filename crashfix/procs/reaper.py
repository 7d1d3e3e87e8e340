"""Run one build or test step and end every process it started, when it ends (Linux).

    python -I -S reaper.py PROGRAM [ARG...]     # started by crashfix.procs, never by hand

A process group is not enough: a step can leave it (`setsid`, a daemon's double fork) and live
on after crashfix returns, still writing into the checkout or waiting for the next run. This
small process marks itself a child subreaper (`PR_SET_CHILD_SUBREAPER`), so every orphan of
the step, whatever group or session it moved to, becomes its child instead of init's. When the
step's own process exits, it kills its remaining children, reaps them, and repeats until none
is left; then it exits with the step's status. On SIGTERM (crashfix's timeout) it does the same
at once. Standard library only, run with `-I -S`: it starts in milliseconds.

The limit: a process the step asks some other service to start (a `systemd --user` unit, cron,
a container daemon) is not its descendant; and a step that kills this reaper first leaves its
orphans to the next subreaper or init (crashfix then still kills the step's process group).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
SWEEP_SECONDS = 10.0


class _Stop(Exception):
    """SIGTERM: the step ran out of time."""


def _subreaper() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)  # the C library is already loaded: no search (it forks ldconfig)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def children(parent: int) -> list[int]:
    """Processes whose parent is `parent`, from /proc (the name may hold spaces and parentheses)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 1 and int(fields[1]) == parent:
            found.append(int(entry))
    return found


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def sweep() -> int:
    """Kill and reap every child left (orphans arrive as their parents die); how many were killed."""
    killed: set[int] = set()
    deadline = time.monotonic() + SWEEP_SECONDS
    while time.monotonic() < deadline:
        _reap()
        left = children(os.getpid())
        if not left:
            break
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except ProcessLookupError:
                pass
        time.sleep(0.01)
    _reap()
    return len(killed)


def _stop(signum: int, frame: object) -> None:
    raise _Stop


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: reaper.py PROGRAM [ARG...]", file=sys.stderr)
        return 2
    _subreaper()
    signal.signal(signal.SIGTERM, _stop)
    try:
        child = os.fork()
    except _Stop:
        return 143
    if child == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            os.execv(argv[0], argv)
        except OSError as error:
            print(f"crashfix: could not start {argv[0]}: {error.strerror}", file=sys.stderr)
        os._exit(127)
    code = 143
    try:
        _, status = os.waitpid(child, 0)
        code = os.waitstatus_to_exitcode(status)
        code = 128 - code if code < 0 else code  # killed by a signal: as a shell reports it
    except _Stop:
        pass
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    left = sweep()
    if left:
        print(f"crashfix: ended {left} process(es) the step left running", file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
