"""Which tests a test command says failed, by name: the identity a baseline comparison needs.

A test run's exit status says only "something failed". To tell a failure the base commit
already had from one a change caused, each failing test is named by its runner:
ctest (`N/M Test #k: name ...***Failed` and `The following tests FAILED:`), GoogleTest
(`[  FAILED  ] Suite.Name`), Catch2 (the test case heading over a `FAILED:` block),
doctest (`TEST CASE:  name` over an `ERROR:` block) and Boost.Test (`error: in "suite/name"`).
Ids carry the runner (`ctest:dns_lookup`, `gtest:Net.Dns`), so a ctest test wrapping a
GoogleTest binary gives both and a new GoogleTest failure inside it is still seen as new.

`without_tests` cuts the output of named tests out of a run's text, so what the model is
shown of a run never mentions a failure that was there before its edit.
"""

from __future__ import annotations

import re

_CTEST_RESULT = re.compile(
    r"^\s*\d+/\d+\s+Test\s+#\d+:\s+(?P<name>.+?)\s+\.*\s*(?P<status>[^.\s].*?)\s+[\d.]+\s+sec\s*$")
_CTEST_START = re.compile(r"^\s*Start\s+\d+:\s+(?P<name>.+?)\s*$")
_CTEST_FAILED_LIST = re.compile(r"^The following tests (?:FAILED|did not run):\s*$")
_CTEST_LISTED = re.compile(r"^\s*\d+ - (?P<name>.+?) \([^)]*\)\s*$")
_CTEST_OUTPUT_END = re.compile(r"^\s*(?:Start\s+\d+:|\d+/\d+\s+Test\s+#|\d+% tests passed|Total Test time)")
_GTEST_FAILED = re.compile(r"^\[  FAILED  \] (?P<name>[A-Za-z_][^\s,]*)")
_GTEST_RUN = re.compile(r"^\[ RUN      \] (?P<name>\S+)")
_GTEST_END = re.compile(r"^\[ {2}(?:FAILED|     OK| SKIPPED) {1,2}\] (?P<name>\S+)")
_RULE = re.compile(r"^-{40,}\s*$")
_DOUBLE_RULE = re.compile(r"^={40,}\s*$")
_CATCH_FAILED = re.compile(r"(?:^|:\s)FAILED:\s*$")
_DOCTEST_CASE = re.compile(r"^TEST CASE:\s+(?P<name>.+?)\s*$")
_DOCTEST_ERROR = re.compile(r"\b(?:ERROR|FATAL ERROR|CRASHED):")
_BOOST = re.compile(r'\berror: in "(?P<name>[^"]+)":')


def failed_tests(text: str) -> list[str]:
    """The failing tests `text` names, each once, in output order, prefixed with their runner."""
    lines = text.split("\n")
    found: dict[str, None] = {}
    for name in _ctest(lines):
        found[f"ctest:{name}"] = None
    for line in lines:
        match = _GTEST_FAILED.match(line) if line.startswith("[  FAILED  ] ") else None
        if match:
            found[f"gtest:{match['name']}"] = None
        boost = _BOOST.search(line) if 'error: in "' in line else None
        if boost:
            found[f"boost:{boost['name']}"] = None
    for name in _catch2(lines):
        found[f"catch2:{name}"] = None
    for name in _doctest(lines):
        found[f"doctest:{name}"] = None
    return list(found)


def _ctest(lines: list[str]) -> list[str]:
    names: list[str] = []
    listing = False
    for line in lines:
        if listing:
            match = _CTEST_LISTED.match(line)
            if match:
                names.append(match["name"].strip())
                continue
            listing = False
        if line.startswith("The following tests") and _CTEST_FAILED_LIST.match(line):
            listing = True
            continue
        match = _CTEST_RESULT.match(line) if "Test #" in line else None
        if match and match["status"].strip() != "Passed":
            names.append(match["name"].strip())
    return names


def _catch2(lines: list[str]) -> list[str]:
    """`---` / test case name / `---` / location / `...` / `path:line: FAILED:`: the name over the block."""
    names: list[str] = []
    current: str | None = None
    for i, line in enumerate(lines):
        if _catch2_heading(lines, i):
            current = lines[i + 1].strip()
        elif _DOUBLE_RULE.match(line):
            current = None
        elif current and _CATCH_FAILED.search(line) and current not in names:
            names.append(current)
    return names


def _doctest(lines: list[str]) -> list[str]:
    names: list[str] = []
    current: str | None = None
    for line in lines:
        match = _DOCTEST_CASE.match(line) if line.startswith("TEST CASE:") else None
        if match:
            current = match["name"]
        elif _DOUBLE_RULE.match(line):
            current = None
        elif current and _DOCTEST_ERROR.search(line) and current not in names:
            names.append(current)
    return names


def bare_name(test_id: str) -> str:
    """`ctest:dns_lookup` -> `dns_lookup`."""
    return test_id.split(":", 1)[1] if ":" in test_id else test_id


def without_tests(text: str, test_ids: list[str]) -> tuple[str, int]:
    """`text` with the named tests' output blocks and every line naming them removed; and how many lines went."""
    names = sorted({bare_name(test_id) for test_id in test_ids if bare_name(test_id).strip()}, key=len, reverse=True)
    if not names:
        return text, 0
    mention = re.compile(r"(?<![\w.:/-])(?:" + "|".join(re.escape(name) for name in names) + r")(?![\w/-])")
    lines = text.split("\n")
    kept: list[str] = []
    skipping: str | None = None  # the runner whose block is being cut: "ctest", "gtest", "catch2", "doctest"
    for i, line in enumerate(lines):
        if skipping == "ctest" and _CTEST_OUTPUT_END.match(line):
            skipping = None
        elif skipping == "gtest" and _GTEST_END.match(line):
            skipping = None
            continue  # the block's own end line names the test
        elif skipping in ("catch2", "doctest") and (_DOUBLE_RULE.match(line) or _catch2_heading(lines, i)):
            skipping = None
        if skipping:
            continue
        if _mentions(line, mention):
            skipping = _block_kind(line, lines, i)
            if skipping == "catch2" and kept and _RULE.match(kept[-1]):
                kept.pop()  # the rule above the test case's name
            continue
        kept.append(line)
    return "\n".join(kept), len(lines) - len(kept)


def _catch2_heading(lines: list[str], i: int) -> bool:
    """A rule starting a Catch2 test case's heading: rule, the name (and section names), rule."""
    if not _RULE.match(lines[i]) or i + 2 >= len(lines) or not lines[i + 1].strip() or _RULE.match(lines[i + 1]):
        return False
    return any(_RULE.match(line) for line in lines[i + 2:i + 6])


def _mentions(line: str, mention: re.Pattern[str]) -> bool:
    return bool(mention.search(line))


def _block_kind(line: str, lines: list[str], i: int) -> str | None:
    """The kind of output block a line naming a test starts, if any (its output follows it)."""
    if _CTEST_RESULT.match(line):
        return "ctest"
    if _GTEST_RUN.match(line):
        return "gtest"
    if _DOCTEST_CASE.match(line):
        return "doctest"
    if i > 0 and _catch2_heading(lines, i - 1):
        return "catch2"
    return None
