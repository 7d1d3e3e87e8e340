"""A Windows Job Object around one build or test step: everything it starts ends when it ends.

Windows has no process groups to kill, and a child can outlive its parent freely. A job can
hold them all: the step is started suspended, put into a new job (so nothing it starts can be
outside it: children of a process in a job are in the job, and the job does not allow breaking
away), then resumed. When the step ends the job is terminated, which ends every process still
in it; `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE` ends them even if crashfix itself dies first.

Plain `ctypes` over kernel32 (and psutil, which resumes a suspended process with
`NtResumeProcess`); `kernel32` can be handed in, so the logic is tested on any system.
"""

from __future__ import annotations

import ctypes
import subprocess
import threading
from typing import Any

CREATE_SUSPENDED = 0x00000004
JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x00002000
JOB_OBJECT_BASIC_ACCOUNTING_INFORMATION = 1
JOB_OBJECT_EXTENDED_LIMIT_INFORMATION = 9
_LARGE = ctypes.c_longlong
_DWORD = ctypes.c_uint32
_SIZE = ctypes.c_size_t


class BasicLimits(ctypes.Structure):
    """JOBOBJECT_BASIC_LIMIT_INFORMATION."""

    _fields_ = [("PerProcessUserTimeLimit", _LARGE), ("PerJobUserTimeLimit", _LARGE), ("LimitFlags", _DWORD),
                ("MinimumWorkingSetSize", _SIZE), ("MaximumWorkingSetSize", _SIZE), ("ActiveProcessLimit", _DWORD),
                ("Affinity", _SIZE), ("PriorityClass", _DWORD), ("SchedulingClass", _DWORD)]


class IoCounters(ctypes.Structure):
    _fields_ = [(name, ctypes.c_ulonglong) for name in ("ReadOperationCount", "WriteOperationCount",
                                                        "OtherOperationCount", "ReadTransferCount",
                                                        "WriteTransferCount", "OtherTransferCount")]


class ExtendedLimits(ctypes.Structure):
    """JOBOBJECT_EXTENDED_LIMIT_INFORMATION (144 bytes on 64-bit Windows)."""

    _fields_ = [("BasicLimitInformation", BasicLimits), ("IoInfo", IoCounters), ("ProcessMemoryLimit", _SIZE),
                ("JobMemoryLimit", _SIZE), ("PeakProcessMemoryUsed", _SIZE), ("PeakJobMemoryUsed", _SIZE)]


class Accounting(ctypes.Structure):
    """JOBOBJECT_BASIC_ACCOUNTING_INFORMATION: how many processes the job holds now."""

    _fields_ = [("TotalUserTime", _LARGE), ("TotalKernelTime", _LARGE), ("ThisPeriodTotalUserTime", _LARGE),
                ("ThisPeriodTotalKernelTime", _LARGE), ("TotalPageFaultCount", _DWORD), ("TotalProcesses", _DWORD),
                ("ActiveProcesses", _DWORD), ("TotalTerminatedProcesses", _DWORD)]


def _last_error() -> int:
    return int(getattr(ctypes, "get_last_error", lambda: 0)())


def _kernel32() -> Any:
    return ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]


class Job:
    """One job for one step: `adopt` the suspended process, `close` when the step has ended."""

    def __init__(self, kernel32: Any = None, resume: Any = None) -> None:
        self.kernel32 = kernel32 if kernel32 is not None else _kernel32()
        self._resume = resume or _resume
        self._lock = threading.Lock()
        self._left: int | None = None  # processes the step left, counted when the job was terminated
        self._watcher: threading.Thread | None = None
        self.handle = self.kernel32.CreateJobObjectW(None, None)
        if not self.handle:
            raise OSError(_last_error(), "CreateJobObjectW failed")
        limits = ExtendedLimits()
        limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
        if not self.kernel32.SetInformationJobObject(self.handle, JOB_OBJECT_EXTENDED_LIMIT_INFORMATION,
                                                     ctypes.byref(limits), ctypes.sizeof(limits)):
            self.kernel32.CloseHandle(self.handle)
            raise OSError(_last_error(), "SetInformationJobObject failed")

    def adopt(self, process: subprocess.Popen[bytes]) -> None:
        """Put the (suspended) process into the job, then let it run; if that fails, it must not run at all.

        A watcher ends the job as soon as the step's own process exits: a process it left running
        would otherwise hold the output pipes open, and reading them would wait for it.
        """
        handle = int(process._handle)  # type: ignore[attr-defined]  # the process handle (Windows only)
        if not self.kernel32.AssignProcessToJobObject(self.handle, handle):
            process.kill()
            raise OSError(_last_error(), "AssignProcessToJobObject failed")
        self._resume(process.pid)
        self._watcher = threading.Thread(target=self._end_with, args=(process,), name="crashfix-job", daemon=True)
        self._watcher.start()

    def _end_with(self, process: subprocess.Popen[bytes]) -> None:
        process.wait()
        self._terminate()

    def _terminate(self) -> None:
        with self._lock:
            if self._left is None:
                self._left = self.active()
                self.kernel32.TerminateJobObject(self.handle, 1)

    def active(self) -> int:
        info = Accounting()
        if not self.kernel32.QueryInformationJobObject(self.handle, JOB_OBJECT_BASIC_ACCOUNTING_INFORMATION,
                                                       ctypes.byref(info), ctypes.sizeof(info), None):
            return 0
        return int(info.ActiveProcesses)

    def close(self) -> str:
        """End every process still in the job; a line for the step's output when some were left running."""
        self._terminate()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        self.kernel32.CloseHandle(self.handle)
        left = self._left or 0
        return f"\ncrashfix: ended {left} process(es) the step left running\n" if left else ""


def _resume(pid: int) -> None:
    import psutil

    psutil.Process(pid).resume()
