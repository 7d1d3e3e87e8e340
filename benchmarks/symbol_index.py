"""How long the symbol index takes on a real tree: cold, warm, and from a clone of the same commit (printed).

    python benchmarks/symbol_index.py CHECKOUT [CHECKOUT ...]

Each tree is copied and committed to a scratch git repository (the cache is keyed by commit).
Cold parses every source file (in worker processes past a few hundred files); warm reuses the
cache by size and mtime; "next commit" changes one file and commits (a new cache file, started
from the last one); "clone" is a fresh clone of that commit (a new runner workspace), where
each file is read and its digest checked instead of parsed.
Target: a TrinityCore-sized tree (~5,000 files) cold in well under a minute.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crashfix.locate.index import iter_source_files  # noqa: E402
from crashfix.locate.symbol_index import SymbolIndex  # noqa: E402


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True)


def timed(root: Path, files: list[str]) -> tuple[float, SymbolIndex]:
    started = time.perf_counter()
    index = SymbolIndex.build(root, files)
    return time.perf_counter() - started, index


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkouts", nargs="+", metavar="CHECKOUT", help="a source tree to index (copied first)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="crashfix-index-bench-"))
    os.environ["CRASHFIX_CACHE_DIR"] = str(work / "cache")
    try:
        for argument in args.checkouts:
            source = Path(argument).resolve()
            root = work / source.name  # a commit of its source files, so the cache is keyed by commit
            shutil.copytree(source, root, ignore=shutil.ignore_patterns(".git"), symlinks=True)
            git(root, "init", "-q")
            git(root, "add", "-A")
            git(root, "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "commit", "-qm", "tree")
            started = time.perf_counter()
            files = list(iter_source_files(root))
            walk = time.perf_counter() - started
            megabytes = sum((root / f).stat().st_size for f in files) / 1e6
            cold, index = timed(root, files)
            warm, _ = timed(root, files)
            first = files[0]
            (root / first).write_bytes((root / first).read_bytes() + b"\n// next commit\n")
            git(root, "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "commit", "-qam", "next")
            following, moved_on = timed(root, files)
            clone = work / (source.name + "-clone")
            git(work, "clone", "-q", str(root), str(clone))
            moved, again = timed(clone, list(iter_source_files(clone)))
            shutil.rmtree(clone)
            shutil.rmtree(root)
            functions = sum(len(s.functions) for s in index.spans.values())
            classes = sum(len(s.classes) for s in index.spans.values())
            print(f"{source.name}: {len(files)} files, {megabytes:.1f} MB, {functions} functions, {classes} classes; "
                  f"walk {walk:.2f} s, cold {cold:.2f} s ({index.parsed} parsed), warm {warm:.2f} s, "
                  f"next commit (1 file changed) {following:.2f} s ({moved_on.parsed} parsed), "
                  f"clone of the commit {moved:.2f} s ({again.parsed} parsed); {os.cpu_count()} CPUs")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
