"""Logging for long-running commands: the terminal, plus a size-rotated file in the state dir."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

LOG_FILE_BYTES = 5 * 1024 * 1024
LOG_FILE_COUNT = 5


def setup(state_dir: Path | None, *, verbose: bool = False, quiet: bool = False) -> Path | None:
    """Log to stderr and to `<state_dir>/logs/crashfix.log`; returns the file's path."""
    root = logging.getLogger("crashfix")
    root.setLevel(logging.DEBUG)
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    terminal = logging.StreamHandler()
    terminal.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    terminal.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S"))
    root.addHandler(terminal)
    if state_dir is None:
        return None
    path = state_dir / "logs" / "crashfix.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    rotating = logging.handlers.RotatingFileHandler(path, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_COUNT,
                                                    encoding="utf-8")
    rotating.setLevel(logging.DEBUG)
    rotating.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
    root.addHandler(rotating)
    return path
