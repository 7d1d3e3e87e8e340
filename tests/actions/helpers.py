"""Shared pieces for the workflow tests: the GitHub Actions tools the [test] extra installs."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from tests.conftest import ROOT, tool_unavailable

WORKFLOWS = ROOT / ".github" / "workflows"
ACTION = ROOT / "action.yml"


def tool(name: str) -> str:
    """A tool from the [test] extra: beside this Python (an unactivated venv), else on PATH.

    Skips when missing, or fails under CRASHFIX_REQUIRE_TOOLS=1 (CI), as tests/conftest.py does.
    """
    beside = Path(sys.executable).parent / (name + (".exe" if os.name == "nt" else ""))
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        tool_unavailable(f"needs {name} (pip install -e '.[test]')")
    return found
