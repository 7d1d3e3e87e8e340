"""Idle cost of `crashfix watch`: resident memory and CPU while nothing crashes (printed, not asserted).

    python benchmarks/watch_idle.py [--seconds 60] [--server] [--sample-seconds 60]

Starts the real `crashfix watch` in a subprocess on an empty crash directory, pointed at a local
fake GitHub, and samples its RSS and CPU time with psutil once a second. Target: RSS <= 40 MB,
CPU ~0 %. Then one crash (a gdb backtrace) is dropped in, and once its issue exists the idle
cost is measured again. The watcher files from a short-lived filing process (PyGithub keeps
~22 MB once imported), so the figure after filing is the watcher's own; the filing process is
reported separately (it ends a few seconds after the queue is empty).

With `--server`, a stand-in game server runs (a copy of `sleep` named `worldserver`) and the
watcher samples it as `[uploader.server] process = "worldserver"` every `--sample-seconds`
(revision from a revision file), so the figures include the uptime sampling.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.github_server import FakeGitHub  # noqa: E402

CRASH_LOG = """Program terminated with signal SIGSEGV, Segmentation fault.
#0  0x000055555555a1b2 in Map::Update (this=0x0, diff=50) at src/server/game/Maps/Map.cpp:812
#1  0x000055555555b3c4 in World::Update (this=0x5555555a0000, diff=50) at src/server/game/World/World.cpp:2301
#2  0x0000555555556d9e in main (argc=1, argv=0x7fffffffe5b8) at src/server/worldserver/Main.cpp:412
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--server", action="store_true", help="sample a stand-in worldserver process")
    parser.add_argument("--sample-seconds", type=float, default=60.0, help="[uploader.server] sample_seconds")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="crashfix-idle-"))
    crashes = work / "Crashes"
    crashes.mkdir()
    config = work / "crashfix.toml"
    config.write_text('[uploader]\nrepo = "acme/worldserver"\n')
    server = stand_in_server(work, config, args) if args.server else None
    print(f"settings: --seconds {args.seconds:g}, server sampling "
          f"{'every ' + format(args.sample_seconds, 'g') + ' s' if args.server else 'off'}")
    with FakeGitHub(owner="acme", repo="worldserver") as github:
        env = {**os.environ, "GITHUB_TOKEN": github.token, "GITHUB_API_URL": github.url,
               "CRASHFIX_STATE_DIR": str(work / "state")}
        command = [sys.executable, "-m", "crashfix", "watch", str(crashes), "--config", str(config)]
        log = (work / "watch.log").open("wb")
        child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
        try:
            process = psutil.Process(child.pid)
            time.sleep(3.0)  # start-up: imports, spool creation, first scan
            if child.poll() is not None:
                print("crashfix watch exited early:", (work / "watch.log").read_text(errors="replace"))
                return 1
            before = len(github.requests)
            report("idle, nothing filed yet", process, args.seconds)
            print(f"  GitHub requests while idle: {len(github.requests) - before}")
            (crashes / "crash-1.txt").write_text(CRASH_LOG)
            deadline = time.monotonic() + 30
            while not github.issues and time.monotonic() < deadline:
                time.sleep(0.2)
            if not github.issues:
                print("the crash was not filed within 30 s")
                return 1
            time.sleep(2.0)
            deadline = time.monotonic() + 30
            while process.children(recursive=True) and time.monotonic() < deadline:
                time.sleep(0.5)  # the filing process ends once the queue has been quiet for a few seconds
            print(f"filing processes still running: {len(process.children(recursive=True))}")
            before = len(github.requests)
            report("idle after filing one crash", process, args.seconds)
            print(f"  GitHub requests while idle: {len(github.requests) - before}")
        finally:
            child.terminate()
            child.wait(timeout=10)
            log.close()
            if server is not None:
                server.kill()
                server.wait(10)
    if server is not None:
        db = sqlite3.connect(str(work / "state" / "spool.sqlite3"))
        runs = db.execute("SELECT pid, revision, last_seen - started FROM server_runs").fetchall()
        db.close()
        print(f"server runs recorded: {[(pid, revision, round(seconds)) for pid, revision, seconds in runs]}")
    return 0


def stand_in_server(work: Path, config: Path, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    """A process named `worldserver` (a copy of `sleep`) and the config that samples it."""
    binary = work / "worldserver"
    shutil.copy(shutil.which("sleep") or "sleep", binary)
    (work / "revision.txt").write_text("0123456789ab\n")
    config.write_text(config.read_text() + f'[uploader.server]\nprocess = "worldserver"\nrevision_file = '
                      f'"{(work / "revision.txt").as_posix()}"\nsample_seconds = {args.sample_seconds}\n')
    return subprocess.Popen([str(binary), str(int(args.seconds * 3 + 120))])


def report(phase: str, process: psutil.Process, seconds: float) -> None:
    """Sample RSS once a second for `seconds`; print median/max RSS and CPU share."""
    start_cpu = sum(process.cpu_times()[:2])
    start = time.monotonic()
    rss: list[float] = []
    while time.monotonic() - start < seconds:
        rss.append(process.memory_info().rss / 2**20)
        time.sleep(1.0)
    cpu_seconds = sum(process.cpu_times()[:2]) - start_cpu
    elapsed = time.monotonic() - start
    print(f"{phase}: {elapsed:.0f} s, {len(rss)} samples")
    print(f"  RSS: median {statistics.median(rss):.1f} MB, max {max(rss):.1f} MB (target <= 40 MB)")
    print(f"  CPU: {cpu_seconds:.3f} s = {100 * cpu_seconds / elapsed:.2f} % of one core")


if __name__ == "__main__":
    raise SystemExit(main())
