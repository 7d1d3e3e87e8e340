"""Does the repository have a test framework a regression test can be written in, and may a declared test run?

The rule (`[fix] regression_test = "auto"`): tests are configured (`[fix] test`), and either a
test command runs ctest, or a CMake file registers tests (`add_test`, `gtest_discover_tests`,
`catch_discover_tests`, `doctest_discover_tests`), or one of the project's own sources (vendored
folders left out) includes GoogleTest, Catch2, doctest or Boost.Test. The walk is bounded: a
huge tree without a hit counts as no framework rather than a slow start.

The model's declared test command is untrusted. It runs only through the same scrubbed,
contained, timeout-bounded step runner as the builds, with `{checkout}` the only substitution,
and its program must be one the configured test commands already run (`ctest`, say) or a file
inside the checkout (a test binary the build made).
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from crashfix.config import FixSettings
from crashfix.fixer.models import RegressionTest
from crashfix.locate.index import is_low_priority, iter_source_files

MAX_FILES = 20_000
MAX_READ = 256 * 1024
_CMAKE_TESTS = re.compile(r"\b(?:add_test|gtest_discover_tests|gtest_add_tests|catch_discover_tests|"
                          r"doctest_discover_tests)\s*\(", re.I)
_TEST_INCLUDES = re.compile(r'^\s*#\s*include\s*[<"](?:gtest/gtest\.h|gmock/gmock\.h|catch2/[^>"]+|catch\.hpp|'
                            r'doctest(?:/doctest)?\.h|boost/test/[^>"]+)[>"]', re.M)
_SKIP_DIRS = re.compile(r"^(?:\..*|build.*|out|cmake-build-.*|node_modules|_deps)$", re.I)


def _program(argv0: str) -> str:
    name = PurePosixPath(argv0.replace("\\", "/")).name.lower()
    return name[:-4] if name.endswith(".exe") else name


def detect(checkout: Path, settings: FixSettings) -> tuple[bool, str]:
    """Whether the repository has a test framework, and the reason in a few words."""
    commands = [command for command in settings.test if command]
    if not commands:
        return False, "no test commands are configured ([fix] test)"
    if any(_program(command[0]) == "ctest" for command in commands):
        return True, "the test commands run ctest"
    seen = 0
    for folder, dirnames, filenames in os.walk(checkout):
        dirnames[:] = sorted(name for name in dirnames if not _SKIP_DIRS.match(name))
        for name in filenames:
            if name == "CMakeLists.txt" or name.endswith(".cmake"):
                seen += 1
                if _CMAKE_TESTS.search(_head(Path(folder) / name)):
                    relative = (Path(folder) / name).relative_to(checkout).as_posix()
                    return True, f"{relative} registers tests"
        if seen > MAX_FILES:
            break
    for count, relative in enumerate(iter_source_files(checkout)):
        if count > MAX_FILES:
            break
        if not is_low_priority(relative) and _TEST_INCLUDES.search(_head(checkout / relative)):
            return True, f"{relative} includes a test framework"
    return False, "no test framework found (no ctest, add_test, GoogleTest, Catch2, doctest or Boost.Test)"


def _head(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_READ).decode("utf-8", errors="replace")
    except OSError:
        return ""


def wanted(checkout: Path, settings: FixSettings) -> tuple[bool, str]:
    """Whether the model is asked for a regression test, and why (or why not)."""
    if settings.regression_test == "off":
        return False, "regression_test = off"
    found, why = detect(checkout, settings)
    if settings.regression_test == "required":
        return True, f"regression_test = required ({why})"
    return found, why


def refusal(test: RegressionTest, changed: list[str], checkout: Path, settings: FixSettings) -> str | None:
    """Why the declared test cannot be run as declared (a sentence for the model), or None when it can."""
    missing = [path for path in test.files if path not in changed]
    if missing:
        return (f"the test files {', '.join(missing[:5])} are not among the files you changed "
                f"({', '.join(changed[:10]) or 'none'}); declare only files you added or edited")
    if set(test.files) >= set(changed):
        return "every changed file is declared a test file: the fix itself must be in a file that is not a test"
    argv0 = test.command[0].replace("{checkout}", str(checkout))
    allowed = {_program(command[0]) for command in settings.test if command}
    refused = (f"the command's program {test.command[0]!r} must be one the project's test commands run "
               f"({', '.join(sorted(allowed)) or 'none'}) or a file inside the checkout")
    if "/" not in argv0.replace("\\", "/"):  # a bare name is looked up on PATH: only the project's test runners
        return None if _program(argv0) in allowed else refused
    path = Path(argv0) if Path(argv0).is_absolute() else checkout / argv0
    parts = PurePosixPath(argv0.replace("\\", "/")).parts
    root = os.path.normcase(os.path.realpath(checkout))
    inside = os.path.normcase(os.path.realpath(path)).startswith(root.rstrip(os.sep) + os.sep)
    if ".." in parts or not inside:
        return refused
    return None
