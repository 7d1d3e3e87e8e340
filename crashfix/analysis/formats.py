"""The input formats crashfix reads, by name: cheap to import (the CLI lists them in `--format`)."""

from __future__ import annotations

from enum import Enum


class SourceFormat(str, Enum):
    """Which kind of text or file a report was read from."""

    CDB = "cdb"
    WHEATY = "wheaty"
    GDB = "gdb"
    SANITIZER = "sanitizer"
    MINIDUMP = "minidump"
    BREAKPAD = "breakpad"
    ASSERTION = "assertion"
    BACKTRACE = "backtrace"
    SYSTEM_LOG = "system-log"


FORMAT_NAMES: tuple[str, ...] = tuple(member.value for member in SourceFormat)
