"""Does the code crashfix shows the model contain what the real developers fixed? (printed, not asserted)

    python benchmarks/localize.py --checkouts /tmp/loc [--cases ../shared/localization]
                                  [--mirror owner/name=GIT_DIR ...] [--tokens N] [--verbose]

Each case folder holds `crash.txt` (the crash as posted) and `case.json` (repository, the commit
before the fix, the files and functions the fix changed). For each case the crash is analysed
and located with the calls and settings `crashfix fix --local --report crash.txt` uses (the
checkout's `.github/crashfix.toml`, else the defaults: skip rules, path mappings, instructions
file and the `[fix] context_tokens` budget, 12,000 tokens by default; `--tokens` overrides the
budget), no model call, in a checkout of the parent commit at `CHECKOUTS/<case>`. With
`--mirror` (a bare clone of the case's repository; repeatable) a missing checkout is exported
there with `git archive` (source files, instruction files and the crashfix config only), and
the fix's changed lines are scored too. Nothing from those repositories belongs in this project.

A case whose crash text cannot be analysed (or whose locate step fails) is a miss row with the
reason, counted in every rate: the fixer would show no code for it. Only a case that could not
be set up (no checkout) is left out of the rates, and said so.

Per case: the fixed file in the context (and the rank of its first snippet among the files
shown), a fixed function overlapped by a snippet, the fix's changed lines shown, context tokens
and files, and locate time (symbol index cold, then warm). Overall: hit rates over all cases
and over the cases where a posted frame names a fixed file; median tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crashfix.analysis.analyze import analyze_path, rules_for  # noqa: E402
from crashfix.config import FixSettings, load_config, repo_config_path  # noqa: E402
from crashfix.errors import CrashfixError  # noqa: E402
from crashfix.locate.context import DEFAULT_INSTRUCTION_FILES, locate  # noqa: E402
from crashfix.locate.cpp_syntax import file_spans  # noqa: E402
from crashfix.locate.index import SOURCE_EXTENSIONS  # noqa: E402
from crashfix.locate.models import CodeContext  # noqa: E402
from crashfix.locate.names import match_score, split_qualified  # noqa: E402

_SETTINGS_FILES = frozenset({*DEFAULT_INSTRUCTION_FILES, ".github/crashfix.toml"})
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@", re.MULTILINE)


@dataclass
class Score:
    name: str
    frame_names_fixed_file: bool
    file_rank: int | None = None
    function_hit: bool | None = None
    changed_lines: tuple[int, int] | None = None
    tokens: int = 0
    files: int = 0
    cold_s: float = 0.0
    warm_s: float = 0.0
    budget: int = 0
    error: str | None = None
    """Why the case could not be run at all (left out of the rates)."""
    miss: str | None = None
    """Why crashfix showed no code: the text could not be analysed, or locate failed (a miss in the rates)."""
    shown: list[str] = field(default_factory=list)


def export(case: dict, target: Path, mirrors: dict[str, Path]) -> str | None:
    """Export the parent commit's source files from a bare mirror into `target`; an error line, or None.

    Only source files: mirrors fetched without large blobs (fonts, DLLs, SQL dumps) cannot
    archive those, and the localizer reads nothing else.
    """
    git_dir = mirrors.get(case["repo"])
    if git_dir is None:
        return f"no checkout at {target} and no --mirror for {case['repo']}"
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    listing = subprocess.run(
        ["git", f"--git-dir={git_dir}", "ls-tree", "-r", "-z", "--name-only", case["parent_commit"]],
        capture_output=True)
    names = [name for name in listing.stdout.decode("utf-8", "replace").split("\0")
             if os.path.splitext(name)[1].lower() in SOURCE_EXTENSIONS or name in _SETTINGS_FILES]
    if listing.returncode != 0 or not names:
        return f"{case['parent_commit'][:12]} lists no source files in {git_dir}"
    archive = subprocess.Popen(["git", f"--git-dir={git_dir}", "archive", case["parent_commit"], "--", *names],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)  # it warns of absent blobs
    untar = subprocess.run(["tar", "-x", "-C", str(partial)], stdin=archive.stdout, capture_output=True)
    if archive.wait() != 0 or untar.returncode != 0:
        return f"git archive of {case['parent_commit'][:12]} from {git_dir} failed"
    partial.rename(target)
    return None


def changed_old_lines(case: dict, git_dir: Path | None) -> dict[str, list[tuple[int, int]]]:
    """Per fixed source file, the parent-side line ranges the fix removed or touched."""
    if git_dir is None:
        return {}
    diff = subprocess.run(
        ["git", f"--git-dir={git_dir}", "diff", "-U0", case["parent_commit"], case["fix_commit"], "--",
         *case["fixed_source_files"]], capture_output=True, text=True, errors="replace")
    out: dict[str, list[tuple[int, int]]] = {}
    for chunk in re.split(r"^diff --git ", diff.stdout, flags=re.MULTILINE)[1:]:
        header = re.search(r"^--- a/(.+)$", chunk, re.MULTILINE)
        if header is None:
            continue
        for start, count in _HUNK.findall(chunk):
            first = int(start)
            length = 1 if count == "" else int(count)
            out.setdefault(header.group(1), []).append((max(1, first), max(first, first + length - 1)))
    return out


def fixed_spans(case: dict, checkout: Path) -> list[tuple[str, int, int]]:
    """Line ranges in the parent checkout of the functions and class bodies the fix changed."""
    out = []
    for item in case.get("fixed_functions_by_file", []):
        name, path = item["function"], item["file"]
        if name == "<file scope>" or not (checkout / path).is_file():
            continue
        spans = file_spans(checkout / path)
        if spans is None:
            continue
        is_class = name.endswith("[class body]")
        wanted = split_qualified(name.replace("[class body]", "").replace("(lambda)", "").strip())
        pool = spans.classes if is_class else spans.functions
        out += [(path, s.start_line, s.end_line) for s in pool
                if match_score(split_qualified(s.qualified_name), wanted)]
    return out


def overlaps(context: CodeContext, ranges: list[tuple[str, int, int]]) -> bool:
    return any(s.path == path and s.start_line <= end and start <= s.end_line
               for s in context.snippets for path, start, end in ranges)


def run_case(folder: Path, checkouts: Path, mirrors: dict[str, Path], tokens: int | None) -> Score:
    try:
        case = json.loads((folder / "case.json").read_text())
    except (OSError, ValueError) as error:
        return Score(folder.name, False, error=f"case.json cannot be read: {error}")
    score = Score(folder.name, bool(case.get("crash_frames_in_fixed_files")))
    checkout = checkouts / folder.name
    if not checkout.is_dir():
        problem = export(case, checkout, mirrors)
        if problem:
            score.error = problem
            return score
    context = _locate_case(folder / "crash.txt", checkout, tokens, score)
    if score.error:
        return score
    if context is None:  # a miss: scored as the nothing the fixer would show
        context = CodeContext()
    files = list(dict.fromkeys(s.path for s in context.snippets))
    score.shown = files
    score.files, score.tokens = len(files), context.estimated_tokens
    fixed = set(case["fixed_source_files"])
    score.file_rank = next((rank for rank, path in enumerate(files, 1) if path in fixed), None)
    spans = fixed_spans(case, checkout)
    score.function_hit = overlaps(context, spans) if spans else None
    changed = changed_old_lines(case, mirrors.get(case["repo"]))
    if changed:
        hunks = [(path, start, end) for path, ranges in changed.items() for start, end in ranges]
        score.changed_lines = (sum(overlaps(context, [h]) for h in hunks), len(hunks))
    return score


def _locate_case(crash: Path, checkout: Path, tokens: int | None, score: Score) -> CodeContext | None:
    """Analyse and locate as `crashfix fix --local --report` does (twice: symbol index cold, then warm).

    A failure is recorded on `score` as a miss with one line, never raised: one case must not
    end the run or hide the others' figures.
    """
    try:
        config = load_config(repo_config_path(checkout, None))
    except CrashfixError as error:
        score.error = f"the checkout's crashfix config: {error.one_line()}"
        return None
    settings = config.fix
    score.budget = tokens if tokens is not None else settings.context_tokens
    try:
        report = analyze_path(crash, rules=rules_for(config.analysis))
    except CrashfixError as error:
        score.miss = f"not analysed: {error.one_line()}"
        return None
    except Exception as error:  # noqa: BLE001 - a crashfix bug, shown as such, and the run goes on
        score.miss = f"not analysed: internal error {type(error).__name__}: {error}"
        return None
    cache = Path(tempfile.mkdtemp(prefix="crashfix-index-"))
    os.environ["CRASHFIX_CACHE_DIR"] = str(cache)
    try:
        timings = []
        for _ in ("cold", "warm"):
            started = time.perf_counter()
            context = locate(report, checkout, path_mappings=settings.path_mappings, context_tokens=score.budget,
                             instructions_file=settings.instructions_file)
            timings.append(time.perf_counter() - started)
        score.cold_s, score.warm_s = timings
        return context
    except Exception as error:  # noqa: BLE001 - as above
        score.miss = f"locate raised {type(error).__name__}: {error}"
        return None
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def rate(hits: int, total: int) -> str:
    return f"{hits}/{total} ({100 * hits / total:.0f}%)" if total else "0/0"


def _row(score: Score, verbose: bool) -> str:
    if score.error:
        return f"{score.name:<22} not run: {score.error}"
    frame = "yes" if score.frame_names_fixed_file else "no"
    func = "-" if score.function_hit is None else ("yes" if score.function_hit else "no")
    hunks = f"{score.changed_lines[0]}/{score.changed_lines[1]}" if score.changed_lines else "-"
    rank = f"#{score.file_rank}" if score.file_rank else "no"
    row = f"{score.name:<22} {frame:>5} {rank:>6} {func:>5} {hunks:>6} {score.tokens:>7} {score.files:>5} "
    if score.miss:
        return row + f"{'-':>7} {'-':>7}  miss: {score.miss}"
    row += f"{score.cold_s:>7.2f} {score.warm_s:>7.2f}"
    return row + ("\n    shown: " + ", ".join(score.shown) if verbose else "")


def _summary(scores: list[Score]) -> None:
    done = [s for s in scores if not s.error]
    located = [s for s in done if not s.miss]
    named = [s for s in done if s.frame_names_fixed_file]
    rest = [s for s in done if not s.frame_names_fixed_file]
    print()
    print(f"cases run: {len(done)} of {len(scores)}" + (f" (not run: {', '.join(s.name for s in scores if s.error)})"
                                                       if len(done) < len(scores) else ""))
    if len(located) < len(done):
        print(f"misses with no code shown (not analysed or locate failed): {', '.join(s.name for s in done if s.miss)}")
    print(f"fixed file in context, all cases:            {rate(sum(bool(s.file_rank) for s in done), len(done))}")
    print(f"fixed file in context, a frame names it:     {rate(sum(bool(s.file_rank) for s in named), len(named))}")
    print(f"fixed file in context, no frame names it:    {rate(sum(bool(s.file_rank) for s in rest), len(rest))}")
    judged = [s for s in done if s.function_hit is not None]
    function_hits = sum(bool(s.function_hit) for s in judged)
    print(f"fixed function overlapped by a snippet:      {rate(function_hits, len(judged))}")
    hunks = [s.changed_lines for s in done if s.changed_lines]
    print(f"fix hunks shown (parent-side lines):         {rate(sum(h[0] for h in hunks), sum(h[1] for h in hunks))}")
    if located:
        print(f"context tokens: median {statistics.median(s.tokens for s in located):.0f}, "
              f"max {max(s.tokens for s in located)}; files: median {statistics.median(s.files for s in located):.0f}")
        print(f"locate time: cold median {statistics.median(s.cold_s for s in located):.2f} s "
              f"(max {max(s.cold_s for s in located):.2f}), "
              f"warm median {statistics.median(s.warm_s for s in located):.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=Path, default=ROOT.parent / "shared" / "localization")
    parser.add_argument("--checkouts", type=Path, required=True, help="folder holding one checkout per case name")
    parser.add_argument("--mirror", action="append", default=[], metavar="OWNER/NAME=GIT_DIR",
                        help="bare clone to export missing checkouts from (and to score changed lines)")
    parser.add_argument("--tokens", type=int, help="context budget; default: the checkout's [fix] context_tokens, "
                        f"else crashfix's default ({FixSettings().context_tokens})")
    parser.add_argument("--case", action="append", default=[], help="only these case folders")
    parser.add_argument("--verbose", action="store_true", help="list the files shown per case")
    args = parser.parse_args()
    mirrors = {}
    for item in args.mirror:
        name, _, path = item.partition("=")
        mirrors[name] = Path(path)
    folders = sorted(p for p in args.cases.iterdir() if (p / "case.json").is_file()) if args.cases.is_dir() else []
    folders = [p for p in folders if not args.case or p.name in args.case]
    if not folders:
        print(f"no cases under {args.cases}")
        return 1
    args.checkouts.mkdir(parents=True, exist_ok=True)
    budget = (f"{args.tokens} tokens (--tokens)" if args.tokens is not None else
              f"each checkout's [fix] context_tokens, else crashfix's default of {FixSettings().context_tokens} tokens")
    print(f"cases: {args.cases} ({len(folders)}); checkouts: {args.checkouts}; context budget: {budget}")
    print(f"{'case':<22} {'frame':>5} {'file':>6} {'func':>5} {'hunks':>6} {'tokens':>7} {'files':>5} "
          f"{'cold s':>7} {'warm s':>7}")
    scores = []
    for folder in folders:
        score = run_case(folder, args.checkouts, mirrors, args.tokens)
        scores.append(score)
        print(_row(score, args.verbose), flush=True)
    other = sorted({s.budget for s in scores if s.budget and s.budget != FixSettings().context_tokens})
    if args.tokens is None and other:
        print(f"(a checkout's config set another budget: {', '.join(map(str, other))} tokens)")
    _summary(scores)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
