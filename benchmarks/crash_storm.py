"""A crash storm: 10,000 crash files over 50 signatures, filed by `crashfix watch --once`.

    python benchmarks/crash_storm.py [--files 10000] [--signatures 50] [--write-interval 1.0]

Printed, not asserted: issues created (should equal the signatures), crashes lost
(should be 0), API writes and requests, and wall time by phase. The fake GitHub is
local; GitHub's one-second spacing of writes is kept unless --write-interval says otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crashfix.issues.record import find_signature, parse_record  # noqa: E402
from crashfix.uploader.watcher import scan  # noqa: E402
from tests.fakes.github_server import FakeGitHub  # noqa: E402
from tests.uploader.helpers import gdb_crash, make_uploader  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--signatures", type=int, default=50)
    parser.add_argument("--write-interval", type=float, default=1.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="crashfix-storm-"))
    crashes = work / "Crashes"
    crashes.mkdir()
    old = time.time() - 10
    for number in range(args.files):
        path = crashes / f"crash-{number:05d}.txt"
        path.write_text(gdb_crash(f"Spell::Effect{number % args.signatures}", number), encoding="utf-8")
        os.utime(path, (old, old))
    with FakeGitHub(owner="acme", repo="worldserver") as github:
        uploader = make_uploader(work / "state", github.url, write_interval_seconds=args.write_interval,
                                 once_give_up_seconds=3600.0, settle_seconds=0.05)
        started = time.perf_counter()
        code, message = uploader.run_once([crashes])
        elapsed = time.perf_counter() - started
        records = [parse_record(i["body"]) for i in github.issues.values() if find_signature(i.get("body"))]
        counted = sum(r.occurrences for r in records if r is not None)
        writes = github.writes()
    files = len(scan([crashes], False))
    print(f"files: {files}, signatures: {args.signatures}, write spacing: {args.write_interval} s")
    print(f"result: exit {code}: {message}")
    print(f"issues created: {len(records)}; occurrences counted: {counted}; lost: {args.files - counted}")
    kinds: dict[str, int] = {}
    for write in writes:
        kind = f"{write.method} {write.path.rsplit('/', 1)[-1] if not write.path[-1].isdigit() else 'issue'}"
        kinds[kind] = kinds.get(kind, 0) + 1
    breakdown = ", ".join(f"{kind}: {count}" for kind, count in sorted(kinds.items()))
    print(f"API requests: {len(github.requests)}, of which writes: {len(writes)} ({breakdown})")
    print(f"wall time: {elapsed:.1f} s ({args.files / elapsed:,.0f} crashes/s end to end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
