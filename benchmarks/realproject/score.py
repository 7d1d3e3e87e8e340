"""How a run compares with the developers' fix: the fixed files' blobs, files and functions touched."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from benchmarks.realproject.export import git

_HUNK = re.compile(r"^@@ [^@]* @@ ?(.*)$", re.MULTILINE)


def blob(repo: Path, commit: str, path: str) -> str | None:
    out = git(repo, "ls-tree", commit, "--", path).split()
    return out[2] if len(out) >= 3 else None


def equal_to_fix(checkout: Path, commit: str | None, mirror: Path, fix_commit: str,
                 files: list[str]) -> dict[str, bool]:
    """Per fixed file: is the run's commit's blob the fix commit's blob (the same bytes)?"""
    return {path: commit is not None and blob(checkout, commit, path) == blob(mirror, fix_commit, path)
            for path in files}


def functions_touched(diff: str, functions: list[str]) -> list[str]:
    """The case's fixed functions named in a hunk header or the changed lines of the run's diff."""
    headers = " ".join(_HUNK.findall(diff))
    changed = " ".join(line for line in diff.splitlines() if line[:1] in "+-")
    return [name for name in functions if name.split("::")[-1] in headers or name.split("::")[-1] in changed]


def score(outcome: Any, case: dict[str, Any], equal: dict[str, bool]) -> list[str]:
    fixed = list(case.get("fixed_files", []))
    touched = [path for path in outcome.changed_files if path in fixed]
    tests = [path for path in outcome.changed_files if re.search(r"(^|/)(tests?|testing)/|_test\.|test_", path)]
    functions = ", ".join(functions_touched(outcome.diff, case.get("fixed_functions", []))) or "none"
    return [f"fixed files touched: {len(touched)} of {len(fixed)} ({', '.join(touched) or 'none'}); "
            f"other files changed: {', '.join(p for p in outcome.changed_files if p not in fixed) or 'none'}",
            f"fixed functions touched: {functions}"
            f" (of {', '.join(case.get('fixed_functions', [])) or '?'})",
            f"builds and tests pass: {'yes' if outcome.verified else 'no'} after {len(outcome.rounds)} round(s)",
            f"regression test: {'test files changed: ' + ', '.join(tests) if tests else 'none added'}",
            f"same bytes as the developers' fix: {all(equal.values()) if equal else False} {equal}"]
