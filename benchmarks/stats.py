"""`crashfix stats` over many crash issues on the local fake GitHub: requests and wall time.

    python benchmarks/stats.py [--issues 1100 5000]

Each issue has a sticky comment and a repeat comment; every other one a draft PR. Prints,
per size, the GitHub requests the listings took (100 items a page) and the wall time of the
whole command (PyGithub over real local HTTP, the figures, the terminal table).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crashfix.cli import main  # noqa: E402
from tests.fakes.github_server import FakeGitHub  # noqa: E402
from tests.stats.helpers import FIXER, seed_many  # noqa: E402


def measure(issues: int) -> tuple[int, float, float]:
    with FakeGitHub(viewer=FIXER) as fake:
        started = time.perf_counter()
        seed_many(fake, issues)
        seeded = time.perf_counter() - started
        os.environ.update(GITHUB_TOKEN=fake.token, GITHUB_API_URL=fake.url)
        before = len(fake.requests)
        started = time.perf_counter()
        with redirect_stdout(io.StringIO()):
            code = main(["stats", "--repo", fake.full_name])
        elapsed = time.perf_counter() - started
        assert code == 0
        return len(fake.requests) - before, elapsed, seeded


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, nargs="+", default=[1100, 5000])
    args = parser.parse_args()
    print(f"{'issues':>7} {'requests':>9} {'seconds':>8}   (seeding the fake took)")
    for issues in args.issues:
        requests, elapsed, seeded = measure(issues)
        print(f"{issues:>7} {requests:>9} {elapsed:>8.2f}   ({seeded:.1f} s)")


if __name__ == "__main__":
    run()
