"""`crashfix doctor`: is the warm-build setup usable here? The build folder (`[fix] build_dir`) can be
created and written, and the compiler cache asked for (`[fix] compiler_cache`) is on PATH. Nothing
configured is nothing to check (no line), as with tool servers."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path

from crashfix.config import Config
from crashfix.errors import CrashfixError
from crashfix.fixer.verify.compiler_cache import find_compiler_cache
from crashfix.setup.checks import Check, failed, ok, warn

_CACHE_DIRS = {"ccache": "CCACHE_DIR", "sccache": "SCCACHE_DIR"}


def warm_build_checks(target: Path, config: Config, environ: Mapping[str, str]) -> list[Check]:
    checks = [check_build_dir(target, config, environ), check_compiler_cache(target, config, environ)]
    return [check for check in checks if check is not None]


def check_build_dir(target: Path, config: Config, environ: Mapping[str, str]) -> Check | None:
    from crashfix.fixer.verify.build_folder import resolve_root

    setting = config.fix.build_dir
    if setting is None:
        return None
    try:
        root = resolve_root(setting, target.resolve(), environ)
    except CrashfixError as error:
        return failed("build folder", error.message, error.hint or "correct [fix] build_dir")
    probe = root / f".crashfix-probe-{uuid.uuid4().hex[:8]}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
    except OSError as error:
        return failed("build folder", f"{root} is not writable here: {error.strerror or error}",
                      "create it and give the runner's account write access, or choose another folder")
    free = shutil.disk_usage(root).free / 1e9
    kept = sum(1 for child in root.iterdir() if child.is_dir())
    detail = f"{root} is writable; {kept} build folder(s) kept; {free:.0f} GB free"
    if free < 10:
        return warn("build folder", detail, "a large server's build needs tens of GB: free space or move it")
    return ok("build folder", detail)


def check_compiler_cache(target: Path, config: Config, environ: Mapping[str, str]) -> Check | None:
    setting = config.fix.compiler_cache
    if setting == "off":
        return None
    found = find_compiler_cache(setting, environ, target)
    if found is None or found.path is None:
        wanted = "ccache or sccache" if setting == "auto" else setting
        return warn("compiler cache", f"{wanted} not found on PATH: builds run without a cache",
                    "install ccache (Linux) or sccache (Windows, MSVC with Ninja) on the runner")
    variable = _CACHE_DIRS.get(found.tool, "")
    where = next((value for key, value in environ.items() if key.upper() == variable), None)
    place = f"{variable}={where}" if where else f"{variable} not set: the tool's default folder"
    return ok("compiler cache", f"{found.tool} at {found.path}; {place} (kept in the build environment)"
              + ("" if os.name != "nt" or found.tool == "sccache" else "; with MSVC prefer sccache"))
