"""File complete -> GitHub issue created: latency of the uploader pipeline (printed, not asserted).

    python benchmarks/uploader_latency.py [--samples 20] [--gap 1.2] [--write-interval 1.0]

`crashfix watch` runs in this process (real watchdog events, real spool, real HTTP to a
local fake GitHub); CDB is a fake that answers at once with a recorded analysis, so the
number is crashfix's own overhead: completeness check, CDB round trip, analysis, spool,
issue creation. Each sample is a new signature (a new issue). Target: median <= 0.5 s.
Writes are spaced as `crashfix watch` spaces them (the `write_interval_seconds` default,
1 s as GitHub asks) unless `--write-interval` says otherwise; the settings are printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crashfix.config import CdbSettings, UploaderSettings  # noqa: E402
from tests.analysis.test_minidump import build_minidump  # noqa: E402
from tests.fakes.github_server import FakeGitHub  # noqa: E402
from tests.uploader.helpers import make_uploader  # noqa: E402

CDB_OUTPUT = """Microsoft (R) Windows Debugger Version 10.0.22621.1 AMD64
0:000> !analyze -v
*******************************************************************************
*                        Exception Analysis                                   *
*******************************************************************************

EXCEPTION_RECORD:  (.exr -1)
ExceptionAddress: 00007ff61a2b3c4d (worldserver!{function}+0x000000000000004c)
   ExceptionCode: c0000005 (Access violation)

STACK_TEXT:
000000a1`11f8f6b0 00007ff6`1a2b1111     : 00000000`00000000 00000000`00000001 : worldserver!{function}+0x4c
000000a1`11f8f700 00007ff6`1a2b2222     : 00000000`00000000 00000000`00000001 : worldserver!Map::Update+0x9d
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--gap", type=float, default=1.2, help="seconds between crashes (GitHub asks 1 s per write)")
    parser.add_argument("--write-interval", type=float, default=UploaderSettings().write_interval_seconds,
                        help="seconds between GitHub writes (default: crashfix's default)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="crashfix-latency-"))
    crashes, outputs = work / "Crashes", work / "cdb"
    crashes.mkdir()
    outputs.mkdir()
    fake_cdb = ROOT / "tests" / "fakes" / "fake_cdb.py"
    cdb = CdbSettings(path=sys.executable, command=(sys.executable, str(fake_cdb), "-z", "{dump}"))
    latencies: list[float] = []
    with FakeGitHub(owner="acme", repo="worldserver") as github:
        environ = {**os.environ, "FAKE_CDB_OUTPUT_DIR": str(outputs)}
        uploader = make_uploader(work / "state", github.url, environ=environ, cdb=cdb,
                                 settle_seconds=0.25, write_interval_seconds=args.write_interval)
        stop = threading.Event()
        runner = threading.Thread(target=uploader.run_forever, args=([crashes], stop), daemon=True)
        runner.start()
        time.sleep(1.0)
        for sample in range(args.samples):
            function = f"Creature::UpdateSample{sample}"
            stem = f"{sample:04x}abcdef_worldserver.exe_[24-11_8-0-{sample}]"
            (outputs / f"{stem}.dmp.txt").write_text(CDB_OUTPUT.replace("{function}", function), encoding="utf-8")
            (crashes / f"{stem}.dmp").write_bytes(build_minidump(eip=0x00401000 + sample))
            (crashes / f"{stem}.txt").write_text(f"crash log of sample {sample}\n", encoding="utf-8")
            complete = time.perf_counter()
            deadline = complete + 30
            while not any(function in issue["title"] for issue in list(github.issues.values())):
                if time.perf_counter() > deadline:
                    print(f"sample {sample}: no issue within 30 s")
                    break
                time.sleep(0.002)
            else:
                latencies.append(time.perf_counter() - complete)
            time.sleep(args.gap)
        stop.set()
        runner.join(10)
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    print(f"samples: {len(latencies)}/{args.samples} (one new signature each, fake CDB, local fake GitHub)")
    print(f"settings: write spacing {args.write_interval:g} s, settle 0.25 s, {args.gap:g} s between crashes")
    print(f"file complete -> issue created: median {statistics.median(latencies):.3f} s, p95 {p95:.3f} s, "
          f"min {latencies[0]:.3f} s, max {latencies[-1]:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
