"""What one tool-server call costs the fix loop, beyond the tool's own work (printed, not asserted).

    python benchmarks/tool_server_calls.py [--calls 200] [--files 10000] [--result-chars 2000]

A real MCP server process (tests/fixer/mcp_test_server.py, the SDK's FastMCP over stdio) answers
`lookup`, a tool that does no work, so its time is all overhead. Measured on a committed git
checkout of `--files` source files (TrinityCore has about 10,000 under src/ and dep/):

- start: starting the server, initialize and tools/list (what a run pays once);
- round trip: one tools/call through crashfix's client on the background event loop (the SDK's
  JSON-RPC, the pipes, the server's own handling);
- checkout check: one look at the checkout (`git status` plus the `.git` control files); a call
  takes one after it, and one before it too when an entry allows writes (`--allow-writes`);
- whole call: what the model loop pays per call: both checks, the round trip, quoting and trimming.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crashfix.config import ToolServerSettings  # noqa: E402
from crashfix.fixer.agent.toolservers import start_tool_servers  # noqa: E402
from crashfix.fixer.checkout.gitops import Git  # noqa: E402
from crashfix.fixer.checkout.workspace import Workspace  # noqa: E402

SERVER = ROOT / "tests" / "fixer" / "mcp_test_server.py"


def make_checkout(root: Path, files: int) -> None:
    """`files` C++ files, 100 to a folder, committed; plus an ignored build folder of the same size."""
    for number in range(files):
        folder = root / "src" / f"module{number // 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"File{number:05d}.cpp").write_text(f"// file {number}\nint f{number}() {{ return {number}; }}\n")
    (root / ".gitignore").write_text("build/\n")
    build = root / "build"
    for number in range(files):
        folder = build / f"obj{number // 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"File{number:05d}.o").write_bytes(b"\0" * 64)
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@b"}
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "tree"]):
        subprocess.run(["git", *args], cwd=root, check=True, env=env)
    time.sleep(1.1)  # files written in the index's second are "racily clean" and re-read by every status
    subprocess.run(["git", "update-index", "-q", "--refresh"], cwd=root, check=True, env=env)


def timed(action: Callable[[], object], times: int) -> list[float]:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def line(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    median = statistics.median(samples) * 1000
    return f"{name:<28} median {median:8.2f} ms   p90 {p90 * 1000:8.2f} ms   (n={len(samples)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200, help="calls per measurement (default 200)")
    parser.add_argument("--files", type=int, default=10_000, help="source files in the checkout (default 10000)")
    parser.add_argument("--result-chars", type=int, default=2000, help="size of each answer (default 2000)")
    parser.add_argument("--allow-writes", action="store_true",
                        help="the entry allows writes: the checkout is also checked before each call")
    options = parser.parse_args()
    writes = str(options.allow_writes).lower()
    print(f"settings: {options.calls} calls, {options.files:,} committed files (+ {options.files:,} ignored in "
          f"build/), answers of {options.result_chars:,} characters, allow_writes = {writes}")
    print(f"python {platform.python_version()} on {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs; "
          f"mcp {version('mcp')}, anyio {version('anyio')}; "
          f"git {subprocess.run(['git', '--version'], capture_output=True, text=True).stdout.split()[-1]}")
    with tempfile.TemporaryDirectory(prefix="crashfix-bench-") as scratch:
        root = Path(scratch) / "checkout"
        root.mkdir()
        made = time.perf_counter()
        make_checkout(root, options.files)
        print(f"checkout made in {time.perf_counter() - made:.1f} s\n")
        entry = ToolServerSettings(name="kb", command=sys.executable, args=(str(SERVER),), tools=("huge",),
                                   max_result_chars=max(options.result_chars, 500), allow_writes=options.allow_writes)
        environ = dict(os.environ)
        workspace, git = Workspace(root), Git(root, environ)
        started = time.perf_counter()
        servers = start_tool_servers((entry,), workspace, git, environ, ())
        start = time.perf_counter() - started
        assert servers is not None and not servers.down, servers and servers.down
        try:
            arguments = {"chars": options.result_chars}
            timed(lambda: servers.hub.call("kb", "huge", arguments, 30), 10)  # warm up
            trip = timed(lambda: servers.hub.call("kb", "huge", arguments, 30), options.calls)
            check = timed(servers.watch.snapshot, max(10, options.calls // 4))
            looks: list[float] = []  # the checkout checks made during the whole calls
            snapshot = servers.watch.snapshot

            def timed_snapshot() -> dict[str, object]:
                started = time.perf_counter()
                try:
                    return dict(snapshot())
                finally:
                    looks.append(time.perf_counter() - started)

            servers.watch.snapshot = timed_snapshot  # type: ignore[method-assign]
            whole = timed(lambda: servers.call("kb__huge", arguments, 600), options.calls)
        finally:
            servers.close()
    print(f"{'start (once per run)':<28} {start * 1000:8.0f} ms")
    print(line("round trip (SDK + pipes)", trip))
    print(line("checkout check (one look)", check))
    print(line("whole call (model loop)", whole))
    share = sum(looks) / sum(whole)
    print(f"\noverhead per call, median: {statistics.median(whole) * 1000:.1f} ms; the checkout checks took "
          f"{share:.0%} of the calls' time ({len(looks) / len(whole):.0f} a call)")


if __name__ == "__main__":
    main()
