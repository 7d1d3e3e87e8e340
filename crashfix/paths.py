"""Where crashfix keeps its own files (spool, logs) on this machine."""

from __future__ import annotations

import os
from pathlib import Path


def state_dir(environ: dict[str, str] | None = None) -> Path:
    """`$CRASHFIX_STATE_DIR`, else `%LOCALAPPDATA%\\crashfix` on Windows, else `~/.local/state/crashfix`."""
    env = os.environ if environ is None else environ
    if env.get("CRASHFIX_STATE_DIR"):
        return Path(env["CRASHFIX_STATE_DIR"])
    if os.name == "nt" and env.get("LOCALAPPDATA"):
        return Path(env["LOCALAPPDATA"]) / "crashfix"
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "crashfix"


def internal_error_log(environ: dict[str, str] | None = None) -> Path:
    """The file where unexpected errors' tracebacks go, so the terminal gets one line."""
    return state_dir(environ) / "logs" / "internal-errors.log"
