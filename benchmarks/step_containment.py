"""What containing a build or test step costs, and how fast it ends what a step leaves (printed, not asserted).

    python benchmarks/step_containment.py [--runs 30] [--leftovers 20]

Runs `true` through `crashfix.procs.run` plain and contained (Linux: under the subreaper
`reaper.py`; Windows: in a Job Object), and a step that leaves `--leftovers` processes behind,
half of them in new sessions (`setsid`), half as plain background children; prints the median
per-step overhead of containment and the time from the step's end to every leftover gone.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from crashfix import procs  # noqa: E402


def median_ms(argv: list[str], runs: int, contain: bool) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        procs.run(argv, timeout=60, contain=contain)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def leftovers(count: int) -> tuple[float, int, int]:
    """Seconds for a contained step that leaves `count` sleepers; how many the step reported; how many survive."""
    half = count // 2
    script = (f"for i in $(seq {half}); do setsid sleep 600 </dev/null >/dev/null 2>&1 & done; "
              f"for i in $(seq {count - half}); do sleep 600 </dev/null >/dev/null 2>&1 & done; "
              "sleep 0.5")  # let every sleeper start before the step's own process ends
    before = {p.pid for p in psutil.process_iter() if p.name() == "sleep"}
    started = time.perf_counter()
    done = procs.run(["/bin/sh", "-c", script], timeout=120, contain=True)
    seconds = time.perf_counter() - started - 0.5
    reported = int(done.stderr.decode().split("ended ")[1].split(" ")[0]) if b"ended " in done.stderr else 0
    survivors = [p for p in psutil.process_iter() if p.name() == "sleep" and p.pid not in before]
    for process in survivors:
        process.kill()
    return seconds, reported, len(survivors)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="Steps per measurement (median shown).")
    parser.add_argument("--leftovers", type=int, default=20, help="Processes the leaving step starts.")
    args = parser.parse_args()
    true = shutil.which("true") or "/bin/true"
    print(f"platform {sys.platform}, python {sys.version.split()[0]}, {args.runs} runs per figure")
    plain = median_ms([true], args.runs, contain=False)
    contained = median_ms([true], args.runs, contain=True)
    print(f"`true` plain: {plain:.1f} ms median; contained: {contained:.1f} ms median "
          f"(containment costs {contained - plain:.1f} ms a step)")
    if sys.platform.startswith("linux"):
        seconds, reported, survivors = leftovers(args.leftovers)
        print(f"a step leaving {args.leftovers} processes ({args.leftovers // 2} in new sessions): all ended "
              f"{seconds:.2f} s after the step; the step's output says {reported} ended; {survivors} survived")
    return 0


if __name__ == "__main__":
    sys.exit(main())
