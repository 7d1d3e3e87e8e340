"""House rules that tools check: ruff (style, import bans per STYLE.md), mypy (types), import-linter (layout)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_is_clean() -> None:
    result = run_tool("ruff", "check", "crashfix", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    result = run_tool("mypy", "crashfix")
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_contracts_hold() -> None:
    """The package layout in pyproject.toml's [tool.importlinter]: layers, the two halves apart, one door per service."""
    script = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    result = subprocess.run([sys.executable, "-c", script, "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)  # the console script's name differs on Windows; the entry point does not
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout and result.stdout.count(" KEPT") >= 5


def test_every_benchmark_script_starts() -> None:
    """A benchmark is run by hand, not by the suite: its imports and arguments are checked here (`--help`)."""
    scripts = sorted((ROOT / "benchmarks").glob("*.py"))
    assert len(scripts) >= 8
    for script in scripts:
        result = subprocess.run([sys.executable, str(script), "--help"], cwd=ROOT, capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0 and "usage:" in result.stdout, f"{script.name}: {result.stderr[-2000:]}"


def test_the_layout_stays_by_part_and_modules_stay_small() -> None:
    """The house by part (issue 12): a dozen loose modules at most in `crashfix/`, none past 450 lines."""
    loose = sorted(path.name for path in (ROOT / "crashfix").glob("*.py"))
    assert len(loose) <= 12, loose
    long = {str(path.relative_to(ROOT)): lines for path in (ROOT / "crashfix").rglob("*.py")
            if "__pycache__" not in path.parts
            and (lines := len(path.read_text(encoding="utf-8").splitlines())) > 450}
    assert long == {}, f"split these by responsibility: {long}"
