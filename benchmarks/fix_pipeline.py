"""`crashfix fix` overhead, excluding model latency and compile time (printed, not asserted).

    python benchmarks/fix_pipeline.py [--runs 5]

The test game server crashes for real under gdb; the real uploader files it to a local fake
GitHub; then `crashfix fix` runs end to end against the fake Anthropic API (which answers a
scripted three-turn conversation at once), builds with cmake and tests with ctest for real,
pushes to a local bare origin and opens the draft PR. The overhead is the run's wall time
minus the time its build and test commands took: locating code, prompts, the tool loop,
git, GitHub calls, reporting. Target: <= 5 s. Also prints the sample fix's token counts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crashfix.fixer.job import FixOptions, build_job  # noqa: E402
from crashfix.fixer.run import run_fix  # noqa: E402
from tests.conftest import FIXTURES  # noqa: E402
from tests.fakes.anthropic_server import FakeAnthropic, Turn, thinking, tool_use  # noqa: E402
from tests.fakes.github_server import FakeGitHub  # noqa: E402
from tests.fixer.helpers import API_KEY, TOKEN, crash_for_real, file_crash, game_repository, git  # noqa: E402
from tests.fixer.test_fix_e2e import FIXED, NULL_CHECK  # noqa: E402


def crash_text(work: Path) -> str:
    build = work / "crash-build"
    subprocess.run(["cmake", "-S", str(FIXTURES / "gameserver"), "-B", str(build)], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build), "--parallel", "2"], check=True, capture_output=True)
    return crash_for_real(build)


def one_run(work: Path, text: str) -> tuple[float, float, object]:
    with FakeGitHub(owner="acme", repo="worldserver", token=TOKEN) as github, \
            FakeAnthropic(api_key=API_KEY) as anthropic:
        _, checkout = game_repository(work)
        number = file_crash(github, work, text)
        anthropic.enqueue(Turn([thinking("frame 0"), tool_use("read_file", {"path": "src/Player.cpp"})]),
                          Turn([tool_use("edit", NULL_CHECK)]), Turn([tool_use("finish", FIXED)]))
        env = {**os.environ, "ANTHROPIC_API_KEY": API_KEY, "ANTHROPIC_BASE_URL": anthropic.url,
               "GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": "acme/worldserver",
               "CRASHFIX_STATE_DIR": str(work / "state")}
        started = time.perf_counter()
        outcome = run_fix(build_job(FixOptions(checkout=checkout, issue=number), env))
        total = time.perf_counter() - started
        assert outcome.status == "fix-proposed", outcome.reason
        commands = sum(step.seconds for result in outcome.rounds for step in result.steps)
        git(checkout, "status")
        return total, commands, outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="crashfix-fixbench-"))
    text = crash_text(base)
    overheads, totals, commands = [], [], []
    outcome = None
    for run in range(args.runs):
        work = base / f"run-{run}"
        work.mkdir()
        total, spent, outcome = one_run(work, text)
        totals.append(total)
        commands.append(spent)
        overheads.append(total - spent)
    assert outcome is not None
    use = outcome.usage  # type: ignore[attr-defined]
    print(f"runs: {args.runs} (real cmake build + ctest, instant fake model, local fake GitHub, local git)")
    print(f"wall per run: median {statistics.median(totals):.2f} s; build+test commands: median "
          f"{statistics.median(commands):.2f} s")
    print(f"pipeline overhead (wall - build/test): median {statistics.median(overheads):.2f} s, "
          f"max {max(overheads):.2f} s (target <= 5 s)")
    print(f"sample fix: {use.turns} model calls, {use.input_tokens + use.cache_write_tokens} input tokens "
          f"(+{use.cache_read_tokens} cached), {use.output_tokens} output tokens, "
          f"cost ${use.cost_usd:.4f} at list price")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
