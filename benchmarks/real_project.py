"""`crashfix fix --local` on a real project's past crash: cold and warm build timings, rounds, and the result
compared with the developers' own fix.

    python benchmarks/real_project.py --mirror /work/.mirror/ddnet+ddnet/repo \\
        --case ../shared/localization/ddnet-4400 [--runs cold,warm] [--jobs 2]

A case folder holds case.json (repo, parent_commit, fix_commit, fixed_files, fixed_functions)
and crash.txt. The parent commit is exported from the local git mirror into a fresh one-commit
repository (`--work`/checkout, the same path every run, as a self-hosted runner's workspace),
with `.github/crashfix.toml` written from the project's recipe (benchmarks/recipes/<name>.toml,
see benchmarks/realproject/recipe.py). Then crashfix's real pipeline runs (`build_job` +
`run_fix`, what `crashfix fix --local` calls).

The model is scripted by default: over real HTTP the real anthropic SDK talks to the project's
fake Messages API, which answers round 1 with the developers' fix with one identifier misspelt
(it must not compile) and the repair turn with the correction. With ANTHROPIC_API_KEY set and
no --scripted, the real model runs instead and is scored against the developers' fix.

Runs (--runs, in order): `cold` a fresh export, an empty build folder and compiler cache;
`warm` the same checkout reset as actions/checkout does (files crashfix changed get new times),
the build folder kept; `fresh` a new export with every file's time set to now, the build folder
and compiler cache kept - what a runner that wipes its workspace gets (warm only with a compiler
cache: --compiler-cache ccache). Nothing is asserted: it prints what ran.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--mirror", type=Path, help="A local git mirror (bare is fine) of the project.")
    parser.add_argument("--case", type=Path, help="A case folder: case.json and crash.txt.")
    parser.add_argument("--recipe", type=Path, help="Default: benchmarks/recipes/<repo name>.toml.")
    parser.add_argument("--work", type=Path, help="Checkout, build folder, ccache and state go here "
                                                  "(default: $TMPDIR/crashfix-real-<case>); kept between runs.")
    parser.add_argument("--runs", default="cold,warm", help="Comma-separated: cold, warm, fresh (default cold,warm).")
    parser.add_argument("--jobs", type=int, default=2, help="Parallel compile jobs ({jobs} in the recipe).")
    parser.add_argument("--compiler-cache", choices=("recipe", "off", "auto", "ccache", "sccache"), default="recipe",
                        help="Override the recipe's [fix] compiler_cache.")
    parser.add_argument("--scripted", action="store_true", help="The scripted model even with ANTHROPIC_API_KEY set.")
    return parser.parse_args(argv)


def tool_version(*argv: str) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    return (done.stdout or done.stderr).splitlines()[0] if (done.stdout or done.stderr) else "?"


def load() -> str:
    try:
        return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "load average unknown"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.mirror is None or args.case is None:
        raise SystemExit("give --mirror DIR (a local git mirror) and --case DIR (case.json + crash.txt)")
    from benchmarks.realproject.recipe import recipe_for
    from benchmarks.realproject.runner import Bench

    case = json.loads((args.case / "case.json").read_text(encoding="utf-8"))
    recipe = recipe_for(case, args.recipe)
    work = (args.work or Path(tempfile.gettempdir()) / f"crashfix-real-{args.case.name}").resolve()
    runs = [kind.strip() for kind in args.runs.split(",") if kind.strip()]
    unknown = [kind for kind in runs if kind not in ("cold", "warm", "fresh")]
    if unknown:
        raise SystemExit(f"--runs: unknown {', '.join(unknown)} (use cold, warm, fresh)")
    real = bool(os.environ.get("ANTHROPIC_API_KEY")) and not args.scripted
    overrides: dict[str, Any] = {} if args.compiler_cache == "recipe" else {"compiler_cache": args.compiler_cache}
    print("settings:")
    for line in (f"mirror {args.mirror}", f"case {args.case} ({case.get('repo')}#{case.get('issue')})",
                 f"parent {case['parent_commit']}  fix {case['fix_commit']}", f"recipe {recipe.path}",
                 f"work {work}", f"runs {', '.join(runs)}", f"jobs {args.jobs} on {os.cpu_count()} cores "
                 f"(shared with other work; {load()})",
                 f"model: {'REAL (ANTHROPIC_API_KEY)' if real else 'scripted (fake Messages API over HTTP)'}",
                 f"compiler cache: {overrides.get('compiler_cache', recipe.fix.get('compiler_cache', 'off'))}",
                 f"{platform.platform()}; {tool_version('cmake', '--version')}; {tool_version('c++', '--version')}",
                 *(f"recipe note: {note}" for note in recipe.notes)):
        print(f"  {line}")
    bench = Bench(args.mirror.resolve(), args.case.resolve(), case, recipe, work, args.jobs, overrides, real)
    results = [bench.run(kind) for kind in runs]
    print("\nsummary (seconds):")
    print(f"  {'run':6} {'total':>7} {'build':>7} {'test':>6} {'model':>6}  per round (build/test)  equal-to-fix")
    for kind, outcome, equal in results:
        split = outcome.time_split
        rounds = "  ".join(f"r{r.round} {r.build_seconds:.1f}/{r.test_seconds:.1f}" for r in split.rounds)
        print(f"  {kind:6} {outcome.seconds:7.1f} {split.build_seconds:7.1f} {split.test_seconds:6.1f} "
              f"{split.model_seconds:6.1f}  {rounds:22}  {all(equal.values()) if equal else False}")
    print(f"  finished with {load()}")
    return 0


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"  benchmark wall time {time.monotonic() - started:.1f} s")
    sys.exit(code)
