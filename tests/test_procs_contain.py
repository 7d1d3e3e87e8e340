"""Processes end with their step: a build or test step that leaves processes behind (in the
background, in a new session with `setsid`, double-forked like a daemon) gets them ended when the
step ends, success or not. Real processes; each test proves the leftover really ran first."""

from __future__ import annotations

import ctypes
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from crashfix import procs
from crashfix.procs.windows import (
    JOB_OBJECT_BASIC_ACCOUNTING_INFORMATION,
    JOB_OBJECT_EXTENDED_LIMIT_INFORMATION,
    JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
    Accounting,
    ExtendedLimits,
    Job,
)

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the subreaper is Linux's")
SH = "/bin/sh"


def script(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "step.sh"
    path.write_text(body)
    return [SH, str(path)]


def pids_from(path: Path) -> list[int]:
    """Pids a step wrote down, waiting until the writer is done (it runs in the background)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().endswith("\n"):
            return [int(line) for line in path.read_text().split()]
        time.sleep(0.05)
    raise AssertionError(f"{path} was never written")


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


@linux
@pytest.mark.parametrize("exit_code", [0, 3])
def test_a_setsid_loop_and_a_daemon_end_with_the_step(tmp_path: Path, exit_code: int) -> None:
    beat = tmp_path / "beat.txt"
    pids = tmp_path / "pids.txt"
    argv = script(tmp_path, f"""
setsid sh -c 'echo $$ >> {pids}.loop; while true; do echo x >> {beat}; sleep 0.05; done' </dev/null >/dev/null 2>&1 &
sh -c 'sh -c "echo \\$\\$ >> {pids}.daemon; sleep 600" </dev/null >/dev/null 2>&1 &' &
sleep 600 &
echo $! >> {pids}.plain
while [ ! -s {beat} ] || [ ! -s {pids}.daemon ] || [ ! -s {pids}.loop ]; do sleep 0.05; done
cat {pids}.loop {pids}.daemon {pids}.plain > {pids}.tmp && mv {pids}.tmp {pids}
echo done
exit {exit_code}
""")
    done = procs.run(argv, timeout=60, contain=True)
    assert done.returncode == exit_code and b"done" in done.stdout
    leftovers = pids_from(pids)
    assert len(leftovers) == 3 and beat.stat().st_size > 0  # they ran: each wrote its own pid, the loop beat
    assert all(gone(pid) for pid in leftovers), [pid for pid in leftovers if alive(pid)]
    assert re.search(rb"crashfix: ended [3-9] process\(es\) the step left running", done.stderr)
    size = beat.stat().st_size
    time.sleep(0.5)
    assert beat.stat().st_size == size  # nothing writes any more


@linux
def test_a_step_out_of_time_is_swept_too(tmp_path: Path) -> None:
    pids = tmp_path / "pids.txt"
    argv = script(tmp_path, f"setsid sh -c 'echo $$ > {pids}.new && mv {pids}.new {pids}; sleep 600' "
                            "</dev/null >/dev/null 2>&1 &\nsleep 600\n")
    done = procs.run(argv, timeout=2, contain=True)
    assert done.timed_out
    [escaped] = pids_from(pids)
    assert gone(escaped)


def test_without_containment_a_setsid_process_outlives_its_step(tmp_path: Path) -> None:
    """The control: the same escape survives a plain run (it is then killed by the test)."""
    if os.name == "nt":
        pytest.skip("setsid is POSIX")
    pids = tmp_path / "pids.txt"
    argv = script(tmp_path, f"setsid sh -c 'echo $$ > {pids}.new && mv {pids}.new {pids}; sleep 600' "
                            "</dev/null >/dev/null 2>&1 &\n"
                            f"while [ ! -s {pids} ]; do sleep 0.05; done\n")
    procs.run(argv, timeout=60)
    [escaped] = pids_from(pids)
    try:
        assert alive(escaped)
    finally:
        procs.kill_tree(escaped)


@linux
def test_the_reaper_passes_output_and_status_through(tmp_path: Path) -> None:
    done = procs.run([SH, "-c", "echo out; echo err >&2; exit 7"], timeout=30, contain=True)
    assert (done.returncode, done.stdout, done.stderr) == (7, b"out\n", b"err\n")
    killed = procs.run([SH, "-c", "kill -9 $$"], timeout=30, contain=True)
    assert killed.returncode == 137  # as a shell reports a process killed by SIGKILL


# -- Windows: the job's logic against a kernel32 that keeps its books like Windows does ----------


class FakeKernel32:
    """Jobs as kernel32 keeps them: handles, limits, member processes; records every call."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.members: dict[int, set[int]] = {}
        self.limits: dict[int, int] = {}
        self.closed: set[int] = set()
        self.terminated: set[int] = set()

    def CreateJobObjectW(self, attributes: object, name: object) -> int:  # noqa: N802 - the API's names
        self.calls.append("create")
        handle = 100 + len(self.members)
        self.members[handle] = set()
        return handle

    def SetInformationJobObject(self, job: int, kind: int, info: object, size: int) -> int:  # noqa: N802
        self.calls.append("limit")
        assert kind == JOB_OBJECT_EXTENDED_LIMIT_INFORMATION and size == ctypes.sizeof(ExtendedLimits)
        limits = ctypes.cast(info, ctypes.POINTER(ExtendedLimits)).contents
        self.limits[job] = limits.BasicLimitInformation.LimitFlags
        return 1

    def AssignProcessToJobObject(self, job: int, process: int) -> int:  # noqa: N802
        self.calls.append(f"assign {process}")
        self.members[job].add(process)
        return 1

    def QueryInformationJobObject(self, job: int, kind: int, info: object, size: int, length: object) -> int:  # noqa: N802
        assert kind == JOB_OBJECT_BASIC_ACCOUNTING_INFORMATION and size == ctypes.sizeof(Accounting)
        ctypes.cast(info, ctypes.POINTER(Accounting)).contents.ActiveProcesses = len(self.members[job])
        return 1

    def TerminateJobObject(self, job: int, code: int) -> int:  # noqa: N802
        self.calls.append("terminate")
        self.terminated.add(job)
        self.members[job].clear()
        return 1

    def CloseHandle(self, handle: int) -> int:  # noqa: N802
        self.calls.append("close")
        self.closed.add(handle)
        return 1


def test_windows_structures_have_the_documented_sizes() -> None:
    if ctypes.sizeof(ctypes.c_void_p) != 8:
        pytest.skip("sizes are checked for 64-bit Windows")
    assert ctypes.sizeof(ExtendedLimits) == 144 and ctypes.sizeof(Accounting) == 48


def test_a_job_is_killed_on_close_and_holds_the_process_from_before_it_runs(tmp_path: Path) -> None:
    kernel32 = FakeKernel32()
    resumed: list[int] = []
    job = Job(kernel32, resume=lambda pid: (resumed.append(pid), kernel32.calls.append(f"resume {pid}")))
    assert kernel32.limits[job.handle] & JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process._handle = 4242  # type: ignore[attr-defined]  # what Windows' Popen holds
    job.adopt(process)
    kernel32.members[job.handle] |= {5001, 5002}  # two processes the step started and left running
    process.wait()
    note = job.close()
    assert kernel32.calls[:3] == ["create", "limit", "assign 4242"] and kernel32.calls[3] == f"resume {process.pid}"
    assert job.handle in kernel32.terminated and job.handle in kernel32.closed
    assert "ended 3 process(es)" in note  # counted when the step ended, before the job was terminated
    assert resumed == [process.pid]


def test_a_process_that_cannot_join_the_job_never_runs() -> None:
    kernel32 = FakeKernel32()
    kernel32.AssignProcessToJobObject = lambda job, process: 0  # type: ignore[method-assign]
    resumed: list[int] = []
    job = Job(kernel32, resume=resumed.append)
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    process._handle = 1  # type: ignore[attr-defined]
    with pytest.raises(OSError, match="AssignProcessToJobObject"):
        job.adopt(process)
    assert process.wait(timeout=30) != 0 and resumed == []
