"""Hostile crash text stays cheap: a few seconds of CPU and under 300 MB, or one clear refusal.

Crash text is untrusted: anyone can post an issue or drop a file in the crash folder. Each
case runs `analyze_path` in a fresh process and reads that process's own CPU time and peak
memory, so the bounds hold whatever else the machine is doing (CPU time, not wall time).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

MAX_CPU_SECONDS = 10.0  # each case takes well under 2 s of CPU here; a regression is 10x or worse
MAX_PEAK_BYTES = 300 * 1024 * 1024

PROBE = r"""
import json, sys, time
from pathlib import Path
from crashfix.analysis.analyze import analyze_path
from crashfix.errors import ParseError
try:
    report = analyze_path(Path(sys.argv[1]))
    outcome = {"frames": len(report.frames), "signature": report.signature.text if report.signature else None}
except ParseError as error:
    outcome = {"refused": error.one_line()}
if sys.platform.startswith("linux"):  # this process's own high-water mark (ru_maxrss also counts the parent's
    # memory at fork time: a probe started by a big test process would report that process's size)
    status = Path("/proc/self/status").read_text()
    peak = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) * 1024
elif sys.platform == "win32":
    import psutil
    peak = psutil.Process().memory_info().peak_wset
else:
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
outcome.update(cpu=time.process_time(), peak=peak)
print(json.dumps(outcome))
"""


def long_name() -> str:
    return ("Program received signal SIGSEGV, Segmentation fault.\n#0  0x0000000000401000 in " + "A::" * 100_000
            + "f (this=0x0) at /src/x.cpp:1\n#1  0x0000000000401100 in main () at /src/main.cpp:3\n")


def ten_megabyte_frame() -> str:
    return ("Program received signal SIGSEGV, Segmentation fault.\n#0  0x0000000000401000 in " + "B" * 10_000_000
            + " (this=0x0) at /src/x.cpp:1\n")


def cdb_frames() -> str:
    frames = "".join(f"00000000`0393{i:04x} 00007ffc`1b2c3d4e : 00000000`00000000 : worldserver!Recurse{i % 7}+0x1c\n"
                     for i in range(100_000))
    return ("0:000> !analyze -v\n*   Exception Analysis   *\n\nEXCEPTION_RECORD:  (.exr -1)\n"
            "ExceptionAddress: 00007ff61a2b3c4d (worldserver!Recurse0+0x4d)\n   ExceptionCode: c00000fd (Stack overflow)\n\n"
            "STACK_TEXT:\n" + frames + "\nFAILURE_BUCKET_ID:  STACK_OVERFLOW_c00000fd_worldserver.exe!Recurse0\n")


def gdb_frames() -> str:
    return "Program received signal SIGSEGV, Segmentation fault.\n" + "".join(
        f"#{i}  0x000055d0c1a2{i:06x} in Recurse{i % 5} (depth={i}) at /src/r.cpp:{i % 90 + 1}\n" for i in range(100_000))


def asan_frames() -> str:
    return ("==1==ERROR: AddressSanitizer: stack-overflow on address 0x7ffd at pc 0x55 bp 0x7ffd sp 0x7ffd T0\n"
            + "".join(f"    #{i} 0x55d0c1a2{i:06x} in Recurse{i % 5}(int) /src/r.cpp:{i % 90 + 1}:3\n" for i in range(100_000))
            + "SUMMARY: AddressSanitizer: stack-overflow /src/r.cpp:3 in Recurse0(int)\n")


def crash_log_frames() -> str:
    return ("Exception code: C00000FD STACK_OVERFLOW\nFault address:  00007FF70A000000 01:0000000000000000 D:\\w\\ws.exe\n\n"
            "Call stack:\nAddress   Frame     Function      SourceFile\n"
            + "".join(f"00007FF70A{i:06X}  000000D1A2{i:06X}  Recurse{i % 5}+1C  D:\\src\\r.cpp line {i % 90 + 1}\n"
                      for i in range(100_000)))


def junk() -> str:
    words = ["foo", "0x1234", "#0", "in", "at", "Call", "stack:", "::", "(", ")", "ERROR:", "SUMMARY:", "code:"]
    return "\n".join(" ".join(words[(i * 7 + j) % len(words)] for j in range(12)) for i in range(400_000))


CASES: dict[str, Callable[[], str]] = {
    "gdb-name-of-300-kb": long_name, "gdb-frame-of-10-mb": ten_megabyte_frame, "cdb-100k-frames": cdb_frames,
    "gdb-100k-frames": gdb_frames, "asan-100k-frames": asan_frames, "crash-log-100k-frames": crash_log_frames,
    "25-mb-of-junk": junk,
}


@pytest.mark.parametrize("case", CASES)
def test_hostile_input_is_bounded(case: str, tmp_path: Path) -> None:
    path = tmp_path / "crash.txt"
    path.write_text(CASES[case](), encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    outcome = json.loads(done.stdout)
    assert outcome["cpu"] < MAX_CPU_SECONDS, outcome
    assert outcome["peak"] < MAX_PEAK_BYTES, outcome
    assert outcome.get("refused") or outcome["frames"] <= 4096, outcome
    if "refused" in outcome:
        assert "\n" not in outcome["refused"]
