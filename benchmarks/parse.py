"""Parse throughput over the shared corpus: reports/s and MB/s (printed, not asserted).

    python benchmarks/parse.py [--rounds N] [--shared DIR]

Each file is read once into memory; the timed loop runs detection, parsing, blame and
signature (`analyze_bytes`), so disk speed does not count. Target: >= 1,000 reports/s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crashfix.analysis.analyze import analyze_bytes  # noqa: E402
from crashfix.cli import example_paths  # noqa: E402
from crashfix.errors import ParseError  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    args = parser.parse_args()
    corpus = args.shared / "corpus"
    files = sorted(p for p in corpus.rglob("*") if p.is_file() and p.name != "MANIFEST.tsv") if corpus.is_dir() else []
    if not files:
        print(f"note: no corpus at {corpus}; measuring the shipped examples only")
    files += example_paths()
    inputs = [(path, path.read_bytes()) for path in files]
    total_bytes = sum(len(data) for _, data in inputs)

    per_file: dict[Path, list[float]] = defaultdict(list)
    failures = 0
    round_times = []
    for _, data in inputs:  # warm-up: compile the skip list and regexes once
        try:
            analyze_bytes(data)
        except ParseError:
            pass
    for _ in range(args.rounds):
        round_start = time.perf_counter()
        for path, data in inputs:
            began = time.perf_counter()
            try:
                analyze_bytes(data)
            except ParseError:
                failures += 1
            per_file[path].append(time.perf_counter() - began)
        round_times.append(time.perf_counter() - round_start)

    median_round = statistics.median(round_times)
    print(f"files: {len(inputs)} ({total_bytes / 1e6:.2f} MB), rounds: {args.rounds}, "
          f"parse errors: {failures // args.rounds}")
    print(f"throughput (median round): {len(inputs) / median_round:,.0f} reports/s, "
          f"{total_bytes / median_round / 1e6:.1f} MB/s; best round {len(inputs) / min(round_times):,.0f} reports/s")
    medians = sorted(((statistics.median(times), path) for path, times in per_file.items()), reverse=True)
    print(f"median per report: {statistics.median(t for t, _ in medians) * 1e3:.2f} ms")
    print("slowest files (median ms):")
    for seconds, path in medians[:5]:
        print(f"  {seconds * 1e3:7.2f}  {path.relative_to(corpus) if path.is_relative_to(corpus) else path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
