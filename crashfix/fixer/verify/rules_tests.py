"""Line rules for test runs: ctest, GoogleTest, sanitizer reports, failed assertions, and a fallback.

A failing test says less than a compiler error: which test, how it ended, and the last
lines it printed. Those lines are kept as context for the ctest line (and still parsed
on their own, so a GoogleTest `Failure` block or an ASan report inside them becomes its
own diagnostic with a file and line).
"""

from __future__ import annotations

import re

from crashfix.fixer.models import Diagnostic
from crashfix.fixer.verify.rules_build import Hit, ParseState, Rule, trim_context

_CTEST_RESULT = re.compile(
    r"^\s*\d+/\d+\s+Test\s+#(?P<num>\d+):\s+(?P<name>.+?)\s+\.*\s*(?P<status>[^.\s].*?)\s+(?P<secs>[\d.]+)\s+sec\s*$"
)
_CTEST_OUTPUT_END = re.compile(r"^\s*(?:Start\s+\d+:|\d+/\d+\s+Test\s+#|\d+% tests passed|Total Test time)")
_CTEST_FAILED_LIST = re.compile(r"^The following tests (?:FAILED|did not run):\s*$")
_CTEST_LISTED = re.compile(r"^\s*(?P<num>\d+) - (?P<name>.+?) \((?P<status>[^)]*)\)\s*$")


def _describe(status: str) -> str:
    """ctest's `***Exception: SegFault` as words a reader (or a model) takes in at once."""
    text = " ".join(status.replace("***", " ").split()).rstrip(":")
    lowered = text.lower()
    if lowered in ("failed", ""):
        return "failed"
    if "timeout" in lowered:
        return "timed out"
    if lowered.startswith("not run"):
        return "was not run"
    if lowered.startswith(("subprocess aborted", "child aborted")):
        return "aborted"
    if "exception" in lowered or lowered in ("segfault", "sigsegv", "bus error", "illegal"):
        detail = text.split("Exception", 1)[-1].strip(" :") or text
        return f"crashed ({detail})"
    return f"failed ({text})"


def ctest_result(lines: list[str], i: int, state: ParseState) -> Hit | None:
    """`2/3 Test #2: fails ....***Failed  0.01 sec`, with the output `--output-on-failure` printed after it."""
    match = _CTEST_RESULT.match(lines[i]) if "Test #" in lines[i] and lines[i].rstrip().endswith("sec") else None
    if match is None:
        return None
    if match["status"].strip() == "Passed":
        return Hit(i + 1)
    name = match["name"].strip()
    j = i + 1
    while j < len(lines) and not _CTEST_OUTPUT_END.match(lines[j]):
        j += 1
    output = [line for line in lines[i + 1:j] if line.strip()]
    state.failed_tests.add(name)
    message = f"ctest: test '{name}' {_describe(match['status'])}"
    diagnostic = Diagnostic(tool="test", severity="failure", message=message, context=trim_context(output[-6:]))
    return Hit(i + 1, [diagnostic])  # the output itself is parsed too


def ctest_failed_list(lines: list[str], i: int, state: ParseState) -> Hit | None:
    """`The following tests FAILED:` and its entries (each test only once, if not reported above)."""
    if not lines[i].startswith("The following tests") or not _CTEST_FAILED_LIST.match(lines[i]):
        return None
    found: list[Diagnostic] = []
    j = i + 1
    while j < len(lines) and (match := _CTEST_LISTED.match(lines[j])):
        name = match["name"].strip()
        if name not in state.failed_tests:
            state.failed_tests.add(name)
            found.append(Diagnostic(tool="test", severity="failure",
                                    message=f"ctest: test '{name}' {_describe(match['status'])}"))
        j += 1
    return Hit(j, found)


_GTEST_RUN = re.compile(r"^\[ RUN      \] (?P<name>\S+)")
_GTEST_FAILED = re.compile(r"^\[  FAILED  \] (?P<name>[^\s,]+)")
_GTEST_MARKER = re.compile(r"^\[[ A-Z=-]{10}\]")
_GTEST_FAILURE = re.compile(
    r"^(?P<path>.+?)(?::(?P<line>\d+))?(?:: Failure| ?\((?P<line2>\d+)\): error: (?P<msg>.*))$"
)


def gtest(lines: list[str], i: int, state: ParseState) -> Hit | None:
    """GoogleTest: `[ RUN ]` names the test, `path:line: Failure` blocks and `[  FAILED  ]` lines."""
    line = lines[i]
    if line.startswith("[ RUN      ] ") and (match := _GTEST_RUN.match(line)):
        state.gtest_test = match["name"]
        return Hit(i + 1)
    if line.startswith("[       OK ] "):
        state.gtest_test = None
        return Hit(i + 1)
    if line.startswith("[  FAILED  ] ") and (match := _GTEST_FAILED.match(line)):
        name = match["name"]
        if name[0].isdigit() or name in state.failed_tests:
            return Hit(i + 1)  # "[  FAILED  ] 1 test, listed below:" or a test already reported
        state.failed_tests.add(name)
        return Hit(i + 1, [Diagnostic(tool="test", severity="failure", message=f"gtest: {name} failed")])
    match = _GTEST_FAILURE.match(line) if ": Failure" in line or "): error: " in line else None
    if match is None or line.startswith(" ") or (not match["line"] and state.gtest_test is None):
        return None  # `path(12): error:` and `unknown file: Failure` only mean GoogleTest inside a test
    j = i + 1
    while j < len(lines) and lines[j].strip() and not _GTEST_MARKER.match(lines[j]) \
            and not _GTEST_FAILURE.match(lines[j]):
        j += 1
    block = lines[i + 1:j]
    first = match["msg"] if match["line2"] else (block.pop(0).strip() if block else "Failure")
    test = state.gtest_test
    if test:
        state.failed_tests.add(test)
    path = None if match["path"] == "unknown file" else match["path"]
    diagnostic = Diagnostic(
        tool="test", severity="failure", path=path,
        line=int(match["line"] or match["line2"]) if path else None,
        message=f"{test}: {first}" if test else first, context=trim_context(block, 10),
    )
    return Hit(j, [diagnostic])


_SANITIZER = re.compile(
    r"^(?:==\d+==\s*)?(?:ERROR|WARNING): (?P<san>AddressSanitizer|LeakSanitizer|ThreadSanitizer|MemorySanitizer|"
    r"UndefinedBehaviorSanitizer|HWAddressSanitizer)(?::\s*|\s+)(?P<msg>.*)$"
)
_SAN_NOISE = re.compile(r"\s+(?:at pc 0x[0-9a-fA-F]+.*|\(pid=\d+\))$")
_FRAME = re.compile(r"^\s*#\d+\s+0x[0-9a-fA-F]+\s+in\s+.+?\s(?P<path>\S+?):(?P<line>\d+)(?::(?P<col>\d+))?\s*$")
_SYSTEM = ("/usr/", "/lib", "/opt/", "c:/program files", "c:/windows")


def _project_frame(report: list[str], state: ParseState) -> re.Match[str] | None:
    """The first frame in the project's own code: where the fix most likely goes."""
    root = str(state.root).replace("\\", "/").rstrip("/").lower() + "/" if state.root else None
    frames = [m for m in map(_FRAME.match, report) if m]
    for frame in frames:
        path = frame["path"].replace("\\", "/").lower()
        system = path.startswith(_SYSTEM) or "/libsanitizer/" in path or "sysdeps/" in path
        if (root and path.startswith(root)) or (not root and not system):
            return frame
    return None


def sanitizer(lines: list[str], i: int, state: ParseState) -> Hit | None:
    """`==123==ERROR: AddressSanitizer: heap-use-after-free ...`: the first lines and the project frame."""
    match = _SANITIZER.match(lines[i]) if "Sanitizer" in lines[i] else None
    if match is None:
        return None
    j = i + 1
    while j < len(lines) and j < i + 60 and not lines[j].startswith(("SUMMARY:", "==================")):
        j += 1
    report = [line for line in lines[i + 1:j] if line.strip() and not re.match(r"^==\d+==\s*$", line)]
    frame = _project_frame(report, state)
    message = _SAN_NOISE.sub("", f"{match['san']}: {match['msg'].strip()}")
    diagnostic = Diagnostic(
        tool="test", severity="failure", message=message, context=trim_context(report, 10),
        path=frame["path"] if frame else None, line=int(frame["line"]) if frame else None,
        column=int(frame["col"]) if frame and frame["col"] else None,
    )
    return Hit(i + 1, [diagnostic])


_GLIBC_ASSERT = re.compile(
    r"^(?:\S+: )?(?P<path>[^:\s][^:]*?):(?P<line>\d+): (?P<fn>.+?): Assertion [`'‘](?P<expr>.+)['’] failed\.$"
)
_CRT_ASSERT = re.compile(r"^Assertion failed: (?P<expr>.+), file (?P<path>.+), line (?P<line>\d+)\s*$")
_TERMINATE = re.compile(r"^terminate called after throwing an instance of '(?P<type>.+)'$")


def crash_lines(lines: list[str], i: int, state: ParseState) -> Hit | None:
    """A failed `assert` (glibc or MSVC CRT) or an uncaught exception printed by a test."""
    line = lines[i]
    if "Assertion" not in line and not line.startswith("terminate called"):
        return None
    match = _GLIBC_ASSERT.match(line) or _CRT_ASSERT.match(line)
    if match:
        context = f"in {match['fn']}" if "fn" in match.groupdict() else ""
        return Hit(i + 1, [Diagnostic(tool="test", severity="failure", path=match["path"], line=int(match["line"]),
                                      message=f"assertion failed: {match['expr']}", context=context)])
    match = _TERMINATE.match(line)
    if match:
        what = lines[i + 1].strip() if i + 1 < len(lines) and "what():" in lines[i + 1] else ""
        message = f"uncaught exception {match['type']}" + (f": {what.split('what():', 1)[1].strip()}" if what else "")
        return Hit(i + 2 if what else i + 1, [Diagnostic(tool="test", severity="failure", message=message)])
    return None


_MAKE = re.compile(r"^g?make(?:\[\d+\])?: \*\*\* (?P<msg>[^\[].*)$")
_FALLBACK = re.compile(r"(?:^|[\s:\]])(?:fatal )?error(?:\s+[A-Z]+\d+)?\s*:\s*\S", re.I)


def fallback(lines: list[str], i: int, state: ParseState) -> Hit | None:
    """Any other `error:` line (ninja, scripts, unknown tools), and make's `*** No rule to make target`."""
    line = lines[i]
    if "rror" not in line and "RROR" not in line and "make" not in line:
        return None
    match = _MAKE.match(line)
    if match:
        return Hit(i + 1, [Diagnostic(tool="other", message=match["msg"].strip())])
    if not _FALLBACK.search(line) or len(line) > 2000:
        return None
    return Hit(i + 1, [Diagnostic(tool="other", message=line.strip()[:480])])


TEST_RULES: tuple[Rule, ...] = (ctest_result, ctest_failed_list, sanitizer, crash_lines)  # gtest runs first
LAST_RULES: tuple[Rule, ...] = (fallback,)
