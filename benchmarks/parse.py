"""Parse throughput over both shared corpora, beside Mozilla's FuzzManager on the same files (printed, not asserted).

    python benchmarks/parse.py [--rounds N] [--shared DIR]

Each file is read once into memory; the timed loop runs detection, parsing, blame and
signature (`analyze_bytes`), so disk speed does not count. Target: >= 1,000 reports/s
(median round). When FuzzManager is installed (`pip install -e ".[bench]"`), its
`FTB.Signatures.CrashInfo.fromRawCrashData` runs on the gdb, ASan and CDB rows of both
manifests in the same rounds, and both tools' throughput on those rows, their ratio and
their top-frame agreement with the engineers' labels are printed. FuzzManager has no idea
of a blamed frame: its first named backtrace entry stands in for one.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crashfix.analysis.analyze import analyze_bytes  # noqa: E402
from crashfix.analysis.models import Frame  # noqa: E402
from crashfix.analysis.textclean import decode  # noqa: E402
from crashfix.cli import example_paths  # noqa: E402
from crashfix.errors import ParseError  # noqa: E402
from tests.analysis.corpus_labels import matches, parse_label  # noqa: E402

COMPARED_KINDS = ("gdb", "asan", "cdb")


def manifest_rows(shared: Path) -> list[tuple[Path, str, str]]:
    """(file, kind, label) of every manifest row of both corpora."""
    rows = []
    for corpus in ("corpus", "corpus2"):
        manifest = shared / corpus / "MANIFEST.tsv"
        if manifest.is_file():
            with manifest.open(encoding="utf-8") as handle:
                rows += [(shared / corpus / row["file"], row["kind"], row["faulting_function_if_shown"])
                         for row in csv.DictReader(handle, delimiter="\t")]
    return rows


def timed_rounds(inputs: list[tuple[Path, bytes]], work: Callable[[bytes], object], rounds: int
                 ) -> tuple[list[float], dict[Path, list[float]], int]:
    """Round times, per-file times, and how many calls raised (once per round)."""
    for _, data in inputs:  # warm-up: compile regexes, build models once
        try:
            work(data)
        except Exception:  # noqa: BLE001 - a tool that cannot read a file is counted, not fatal
            pass
    per_file: dict[Path, list[float]] = defaultdict(list)
    failures = 0
    round_times = []
    for _ in range(rounds):
        round_start = time.perf_counter()
        for path, data in inputs:
            began = time.perf_counter()
            try:
                work(data)
            except Exception:  # noqa: BLE001
                failures += 1
            per_file[path].append(time.perf_counter() - began)
        round_times.append(time.perf_counter() - round_start)
    return round_times, per_file, failures // max(rounds, 1)


def crashfix_top(data: bytes) -> Frame | None:
    try:
        return analyze_bytes(data).blamed_frame
    except ParseError:
        return None


def fuzzmanager() -> tuple[Callable[[bytes], object], Callable[[bytes], Frame | None]] | None:
    """FuzzManager's parser and a top-frame reader, or None when it is not installed."""
    try:
        from FTB.ProgramConfiguration import ProgramConfiguration
        from FTB.Signatures.CrashInfo import CrashInfo
    except ImportError:
        return None
    configuration = ProgramConfiguration("crashfix-benchmark", "x86-64", "linux")

    def parse(data: bytes) -> object:
        lines = decode(data).splitlines()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return CrashInfo.fromRawCrashData([], lines, configuration, auxCrashData=lines)  # it prints what it skips

    def top(data: bytes) -> Frame | None:
        try:
            backtrace = getattr(parse(data), "backtrace", None) or []
        except Exception:  # noqa: BLE001
            return None
        named = [entry for entry in backtrace if entry and entry != "??"]
        return Frame(index=0, function=named[0]) if named else None

    return parse, top


def agreement(rows: list[tuple[Path, str, str]], inputs: dict[Path, bytes], top: Callable[[bytes], Frame | None]
              ) -> tuple[int, int]:
    labelled = [(path, parse_label(label)) for path, _, label in rows]
    labelled = [(path, expected) for path, expected in labelled if expected is not None]
    hits = sum(1 for path, expected in labelled if matches(expected, top(inputs[path])))
    return hits, len(labelled)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20, help="timed rounds over all files (median is reported)")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared", help="the shared material folder")
    args = parser.parse_args()
    rows = manifest_rows(args.shared)
    if not rows:
        print(f"note: no corpus at {args.shared}; measuring the shipped examples only")
    files = [path for path, _, _ in rows] + example_paths()
    inputs = [(path, path.read_bytes()) for path in files]
    by_path = dict(inputs)
    total_bytes = sum(len(data) for _, data in inputs)

    round_times, per_file, failures = timed_rounds(inputs, analyze_bytes, args.rounds)
    median_round = statistics.median(round_times)
    print(f"crashfix: {len(inputs)} files ({total_bytes / 1e6:.2f} MB) from corpus, corpus2 and the examples; "
          f"{args.rounds} rounds; files it refuses: {failures}")
    print(f"throughput (median round): {len(inputs) / median_round:,.0f} reports/s, "
          f"{total_bytes / median_round / 1e6:.1f} MB/s; best round {len(inputs) / min(round_times):,.0f} reports/s")
    medians = sorted(((statistics.median(times), path) for path, times in per_file.items()), reverse=True)
    print(f"median per report: {statistics.median(t for t, _ in medians) * 1e3:.2f} ms")
    print("slowest files (median ms):")
    for seconds, path in medians[:5]:
        shown = path.relative_to(args.shared) if path.is_relative_to(args.shared) else path.name
        print(f"  {seconds * 1e3:7.2f}  {shown}")

    compared_rows = [row for row in rows if row[1] in COMPARED_KINDS]
    tools = fuzzmanager()
    if tools is None:
        print("FuzzManager: not installed (pip install -e \".[bench]\"); no comparison")
        return 0
    fm_parse, fm_top = tools
    subset = [(path, by_path[path]) for path, _, _ in compared_rows]
    ours, _, ours_failed = timed_rounds(subset, analyze_bytes, args.rounds)
    theirs, _, theirs_failed = timed_rounds(subset, fm_parse, args.rounds)
    ours_rate, theirs_rate = len(subset) / statistics.median(ours), len(subset) / statistics.median(theirs)
    our_hits, labelled = agreement(compared_rows, by_path, crashfix_top)
    their_hits, _ = agreement(compared_rows, by_path, fm_top)
    print(f"same {len(subset)} files ({', '.join(COMPARED_KINDS)} rows of both manifests), {args.rounds} rounds:")
    print(f"  crashfix    {ours_rate:8,.0f} reports/s  refused {ours_failed:2}  "
          f"frame = label {our_hits}/{labelled}")
    print(f"  FuzzManager {theirs_rate:8,.0f} reports/s  raised  {theirs_failed:2}  "
          f"frame = label {their_hits}/{labelled} (its first named frame)")
    print(f"  ratio: crashfix is {ours_rate / theirs_rate:.2f}x FuzzManager's speed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
