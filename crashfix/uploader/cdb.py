"""Running CDB (the console Windows debugger) on a new dump, and knowing when not to.

CDB is optional: missing, hanging or failing, it costs one clear log line and the
uploader falls back to the crash log or the minidump itself. It runs with the
configured symbol path (else `_NT_SYMBOL_PATH` from the environment), under a
timeout after which the debugger and anything it started are killed.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from crashfix import procs, scrub
from crashfix.analysis.textclean import decode
from crashfix.config import CdbSettings

log = logging.getLogger(__name__)

WINDOWS_KITS = (
    r"C:\Program Files (x86)\Windows Kits\10\Debuggers\x64\cdb.exe",
    r"C:\Program Files\Windows Kits\10\Debuggers\x64\cdb.exe",
    r"C:\Program Files (x86)\Windows Kits\10\Debuggers\x86\cdb.exe",
    r"C:\Program Files (x86)\Windows Kits\8.1\Debuggers\x64\cdb.exe",
)


@dataclass(frozen=True)
class CdbOutcome:
    """CDB's analysis text, or why there is none."""

    text: str | None
    problem: str | None = None


def find_cdb(settings: CdbSettings, environ: Mapping[str, str]) -> str | None:
    """The configured CDB, else `cdb` on PATH, else the Windows Kits install folders."""
    if not settings.enabled:
        return None
    if settings.path:
        return settings.path if Path(settings.path).exists() or shutil.which(settings.path) else None
    found = shutil.which("cdb", path=environ.get("PATH"))
    if found:
        return found
    for candidate in WINDOWS_KITS:
        if Path(candidate).is_file():
            return candidate
    return None


def analyse_dump(dump: Path, settings: CdbSettings, environ: Mapping[str, str]) -> CdbOutcome:
    """Run CDB on `dump`; never raises for CDB's own failures, it reports them."""
    cdb = find_cdb(settings, environ)
    if cdb is None:
        return CdbOutcome(None, "CDB not found (install the Windows SDK debugging tools or set [uploader.cdb] path)")
    argv = [part.replace("{cdb}", cdb).replace("{dump}", str(dump)) for part in settings.command]
    env = scrub.scrubbed_environment(environ)  # a debugger reading untrusted dumps never holds the token
    if settings.symbol_path:
        env["_NT_SYMBOL_PATH"] = settings.symbol_path
    try:
        result = procs.run(argv, timeout=settings.timeout_seconds, env=env)
    except OSError as error:
        return CdbOutcome(None, f"CDB could not start ({error.strerror or error}): {cdb}")
    if result.timed_out:
        return CdbOutcome(None, f"CDB did not finish within {settings.timeout_seconds:g} s and was killed "
                                "(a slow symbol server? raise [uploader.cdb] timeout_seconds)")
    text = decode(result.stdout)
    if "Exception Analysis" not in text and "Bugcheck Analysis" not in text and "STACK_TEXT" not in text:
        detail = decode(result.stderr).strip().splitlines()[-1:] or [f"exit code {result.returncode}"]
        return CdbOutcome(None, f"CDB printed no analysis ({detail[0][:200]})")
    log.debug("CDB analysed %s in %.1f s", dump, result.seconds)
    return CdbOutcome(text)
