"""benchmarks/localize.py on two tiny cases: a crash that cannot be analysed is a miss row, not the end of the run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from crashfix.config import FixSettings
from tests.conftest import FIXTURES, ROOT

GDB = """Program received signal SIGSEGV, Segmentation fault.
#0  0x0000555555559a8e in Creature::Update (this=0x55555556feb0, diff=100) at /home/ci/server/src/entities/Creature.cpp:14
#1  0x000055555555869c in Map::Update (this=0x55555556f000, diff=100) at /home/ci/server/src/maps/Map.cpp:38
"""


def make_case(cases: Path, checkouts: Path, name: str, crash: str) -> None:
    folder = cases / name
    folder.mkdir(parents=True)
    (folder / "crash.txt").write_text(crash)
    (folder / "case.json").write_text(json.dumps({
        "repo": "example/tree", "parent_commit": "0" * 40, "fix_commit": "1" * 40,
        "fixed_source_files": ["src/entities/Creature.cpp"],
        "fixed_functions_by_file": [{"file": "src/entities/Creature.cpp", "function": "Creature::Update"}],
        "crash_frames_in_fixed_files": True}))
    shutil.copytree(FIXTURES / "locate_tree", checkouts / name)


def run(*args: str) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "localize.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
    return done.stdout


def test_an_unreadable_crash_is_a_miss_row_and_the_budget_is_the_fixers(tmp_path: Path) -> None:
    cases, checkouts = tmp_path / "cases", tmp_path / "checkouts"
    make_case(cases, checkouts, "a-unreadable", "hello, this is not a crash\n")
    make_case(cases, checkouts, "b-gdb", GDB)
    out = run("--cases", str(cases), "--checkouts", str(checkouts))
    default = FixSettings().context_tokens
    assert f"context budget: each checkout's [fix] context_tokens, else crashfix's default of {default} tokens" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith(("a-", "b-"))}
    assert "miss: not analysed: not a crash report crashfix recognises" in rows["a-unreadable"]
    assert rows["a-unreadable"].split()[1:4] == ["yes", "no", "no"]  # counted: no file, no function shown
    assert rows["b-gdb"].split()[1:4] == ["yes", "#1", "yes"]
    assert "cases run: 2 of 2" in out
    assert "misses with no code shown (not analysed or locate failed): a-unreadable" in out
    assert "fixed file in context, all cases:            1/2 (50%)" in out
    assert "fixed file in context, a frame names it:     1/2 (50%)" in out


def test_the_budget_comes_from_the_checkouts_config_or_tokens(tmp_path: Path) -> None:
    cases, checkouts = tmp_path / "cases", tmp_path / "checkouts"
    make_case(cases, checkouts, "b-gdb", GDB)
    (checkouts / "b-gdb" / ".github").mkdir()
    (checkouts / "b-gdb" / ".github" / "crashfix.toml").write_text("[fix]\ncontext_tokens = 3000\n")
    assert "(a checkout's config set another budget: 3000 tokens)" in run("--cases", str(cases), "--checkouts",
                                                                            str(checkouts))
    out = run("--cases", str(cases), "--checkouts", str(checkouts), "--tokens", "1500")
    assert "context budget: 1500 tokens (--tokens)" in out
    assert "another budget" not in out
