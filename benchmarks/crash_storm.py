"""A crash storm filed by the real `crashfix watch --once`, with the product's real write spacing.

    python benchmarks/crash_storm.py                                   # 10,000 files, 50 signatures
    python benchmarks/crash_storm.py --files 1000 --signatures 1000 --give-up 600   # the hourly cap

Runs the `crashfix` command in a subprocess against a local fake GitHub, with the default
settings a user gets (`write_interval_seconds` 1.0, 80 creations a minute, 500 an hour) unless
flags say otherwise; nothing is scaled or simulated: the clock is the real one. Printed, not
asserted: issues created (should equal the signatures), crashes lost (should be 0), the API
writes, the measured spacing of writes and the most creations (issues + comments) seen in any
minute and any hour. When the hourly cap stops a run, it says how many crashes wait in the spool
and computes from the measured spacing when the rest would be filed.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crashfix.config import UploaderSettings  # noqa: E402
from crashfix.issues.record import find_signature, parse_record  # noqa: E402
from tests.fakes.github_server import FakeGitHub, RecordedRequest  # noqa: E402
from tests.uploader.helpers import gdb_crash  # noqa: E402


def write_files(crashes: Path, files: int, signatures: int) -> None:
    old = time.time() - 120  # written a while ago: complete
    for number in range(files):
        path = crashes / f"crash-{number:05d}.txt"
        path.write_text(gdb_crash(f"Spell::Effect{number % signatures}", number), encoding="utf-8")
        os.utime(path, (old, old))


def most_in_window(times: list[float], window: float) -> int:
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def is_creation(request: RecordedRequest) -> bool:
    return request.method == "POST" and (request.path.endswith("/issues") or request.path.endswith("/comments"))


def main() -> int:
    defaults = UploaderSettings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--signatures", type=int, default=50)
    parser.add_argument("--write-interval", type=float, default=defaults.write_interval_seconds)
    parser.add_argument("--give-up", type=float, default=3600.0, help="--once stops retrying after this (s)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="crashfix-storm-"))
    crashes, state = work / "Crashes", work / "state"
    crashes.mkdir()
    write_files(crashes, args.files, args.signatures)
    config = work / "crashfix.toml"
    config.write_text(f'[uploader]\nrepo = "acme/worldserver"\nwrite_interval_seconds = {args.write_interval}\n'
                      f"once_give_up_seconds = {args.give_up}\n[uploader.cdb]\nenabled = false\n", encoding="utf-8")
    print(f"settings: {args.files} files, {args.signatures} signatures; write spacing {args.write_interval} s; "
          f"content limits {defaults.content_per_minute}/min and {defaults.content_per_hour}/h (the product's "
          f"defaults); --once gives up after {args.give_up:.0f} s; real clock, nothing scaled")
    with FakeGitHub(owner="acme", repo="worldserver") as github:
        env = {**os.environ, "GITHUB_TOKEN": github.token, "GITHUB_API_URL": github.url}
        command = [sys.executable, "-m", "crashfix", "watch", str(crashes), "--once", "--config", str(config),
                   "--state-dir", str(state)]
        started = time.time()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        elapsed = time.time() - started
        with github.lock:
            records = [parse_record(i["body"]) for i in github.issues.values() if find_signature(i.get("body"))]
            requests = list(github.requests)
    report(args, done, elapsed, started, records, requests, state)
    return 0


def report(args: argparse.Namespace, done: subprocess.CompletedProcess[str], elapsed: float, started: float,
           records: list, requests: list[RecordedRequest], state: Path) -> None:
    counted = sum(r.occurrences for r in records if r is not None)
    db = sqlite3.connect(str(state / "spool.sqlite3"))
    waiting = db.execute("SELECT COUNT(*) FROM crashes WHERE state IN ('found', 'analysed')").fetchone()[0]
    db.close()
    print(f"result: exit {done.returncode}: {done.stdout.strip() or done.stderr.strip().splitlines()[-1]}")
    print(f"issues created: {len(records)}; occurrences counted: {counted}; waiting in the spool: {waiting}; "
          f"lost: {args.files - counted - waiting}")
    writes = [r for r in requests if r.method in ("POST", "PATCH", "PUT", "DELETE")]
    kinds: dict[str, int] = {}
    for write in writes:
        kind = f"{write.method} {write.path.rsplit('/', 1)[-1] if not write.path[-1].isdigit() else 'issue'}"
        kinds[kind] = kinds.get(kind, 0) + 1
    print(f"API requests: {len(requests)}, of which writes: {len(writes)} "
          f"({', '.join(f'{k}: {n}' for k, n in sorted(kinds.items()))})")
    times = [w.timestamp for w in writes]
    gaps = [b - a for a, b in zip(times, times[1:])]
    if gaps:
        print(f"write spacing measured: min {min(gaps):.2f} s, median {sorted(gaps)[len(gaps) // 2]:.2f} s")
    creations = [r.timestamp for r in requests if is_creation(r)]
    print(f"creations (issues + comments): {len(creations)}; most in any 60 s: {most_in_window(creations, 60)} "
          f"(limit 80); most in any hour: {most_in_window(creations, 3600)} (limit 500)")
    if writes:
        print(f"first write after {writes[0].timestamp - started:.1f} s (spooling and analysis), "
              f"last write after {writes[-1].timestamp - started:.1f} s")
    print(f"wall time: {elapsed:.1f} s ({args.files / elapsed:,.1f} crashes/s end to end)")
    if waiting and len(creations) >= 2:
        pace = (creations[-1] - creations[0]) / (len(creations) - 1)
        resume = creations[0] + 3600
        print(f"the hourly cap held: {waiting} crash(es) wait in the spool (queued, not dropped). Computed from the "
              f"measured pace ({pace:.2f} s a creation): creations resume {resume - started:.0f} s after the start, "
              f"and the last of the remaining {waiting} would be filed about "
              f"{(resume - started + waiting * pace) / 60:.0f} min after the start")


if __name__ == "__main__":
    sys.exit(main())
