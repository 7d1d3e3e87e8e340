"""Compiler caches (ccache, sccache) for the fixer's builds, through CMake's compiler launcher.

With `[fix] compiler_cache = "auto" | "ccache" | "sccache"` crashfix looks the tool up on the
build environment's PATH and adds `-DCMAKE_C_COMPILER_LAUNCHER=<tool>` and
`-DCMAKE_CXX_COMPILER_LAUNCHER=<tool>` to every CMake *configure* command that does not set a
launcher itself. A fresh checkout's new file times then cost cache lookups, not compiles.
The cache folder comes from the runner's `CCACHE_DIR` / `SCCACHE_DIR`, which the scrubbed
build environment keeps (their names are not secret-looking). MSVC: sccache works as the
launcher with the Ninja generators only (Visual Studio generators ignore launchers) and
needs embedded debug info (`/Z7`, CMAKE_MSVC_DEBUG_INFORMATION_FORMAT=Embedded).

The cache is written by builds of model-written code: give crashfix its own cache folder,
never one a release build reads.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TOOLS = ("ccache", "sccache")
LANGUAGES = ("C", "CXX")
_NOT_CONFIGURE = ("--build", "--install", "-E", "-P", "--open", "--help", "--version", "--workflow")


@dataclass(frozen=True)
class CompilerCache:
    """The tool asked for, where it was found (None: not found, see `note`), and what it adds to the env."""

    tool: str
    path: str | None
    env: dict[str, str] = field(default_factory=dict)
    note: str = ""

    def add_launcher(self, argv: list[str]) -> list[str]:
        if self.path is None or not is_cmake_configure(argv):
            return argv
        set_already = {lang for lang in LANGUAGES for part in argv
                       if part.startswith(f"-DCMAKE_{lang}_COMPILER_LAUNCHER")}
        return [*argv, *(f"-DCMAKE_{lang}_COMPILER_LAUNCHER={self.path}" for lang in LANGUAGES
                         if lang not in set_already)]


def is_cmake_configure(argv: Sequence[str]) -> bool:
    """`cmake -S . -B build ...` (or `cmake ..`), not `cmake --build`, `-E`, `-P` or `--install`."""
    if not argv:
        return False
    name = Path(argv[0].replace("\\", "/")).name.lower().removesuffix(".exe")
    return name == "cmake" and not any(part in _NOT_CONFIGURE for part in argv[1:])


def _path_of(env: Mapping[str, str]) -> str:
    return next((value for key, value in env.items() if key.upper() == "PATH"), os.defpath)


def find_compiler_cache(setting: str, environ: Mapping[str, str], checkout: Path) -> CompilerCache | None:
    """The compiler cache to use, or None when `setting` is "off"; a tool asked for but missing says so."""
    if setting == "off":
        return None
    wanted = TOOLS if setting == "auto" else (setting,)
    for tool in wanted:
        found = shutil.which(tool, path=_path_of(environ))
        if found:  # a stable checkout path and build folder hit the cache; a moved checkout needs CCACHE_BASEDIR
            return CompilerCache(tool=tool, path=found)
    names = " or ".join(wanted)
    return CompilerCache(tool=setting, path=None,
                         note=f"compiler_cache = {setting!r}: {names} not found on the build PATH; building without")
