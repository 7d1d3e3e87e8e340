"""Real crashes of a real C++ program (tests/fixtures/gameserver), built with cmake, read back.

Each scenario crashes the small game server for real: under gdb, under
AddressSanitizer, through its own glibc signal handler, and by assertion.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from crashfix.analysis.analyze import analyze_text
from crashfix.analysis.models import SourceFormat
from tests.conftest import require_tools


def run(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    return result.stdout + result.stderr


def gdb_output(build: Path, scenario: str, commands: tuple[str, ...] = ("bt full",)) -> str:
    require_tools("gdb")
    args = ["gdb", "-q", "-batch", "-nx", "-ex", "run"]
    for command in commands:
        args += ["-ex", command]
    return run([*args, "--args", str(build / "worldserver"), scenario])


def test_null_target_under_gdb(gameserver_build: Path) -> None:
    report = analyze_text(gdb_output(gameserver_build, "combat", ("bt", "thread apply all bt full")))
    assert report.format is SourceFormat.GDB
    assert report.exception is not None and report.exception.code == "SIGSEGV"
    assert [f.function for f in report.frames[:4]] == [
        "Unit::GetHealth", "Player::Update", "Map::Update", "World::CombatTick"]
    blamed = report.blamed_frame
    assert blamed is not None and blamed.function == "Unit::GetHealth"
    assert blamed.file is not None and blamed.file.endswith("Unit.cpp")
    assert report.signature is not None and report.signature.quality == "good"
    assert report.signature.text == "Unit::GetHealth | Player::Update | Map::Update"


def test_the_same_crash_through_the_signal_handler_gets_the_same_signature(gameserver_build: Path) -> None:
    handler = analyze_text(run([str(gameserver_build / "worldserver"), "combat", "--crash-handler"]))
    assert handler.format is SourceFormat.BACKTRACE
    assert handler.blamed_frame is not None and handler.blamed_frame.function == "Unit::GetHealth"
    debugger = analyze_text(gdb_output(gameserver_build, "combat"))
    assert handler.signature is not None and debugger.signature is not None
    assert handler.signature.id == debugger.signature.id


def test_a_different_bug_gets_a_different_signature(gameserver_build: Path) -> None:
    division = analyze_text(gdb_output(gameserver_build, "stats"))
    assert division.exception is not None and division.exception.code == "SIGFPE"
    assert division.blamed_frame is not None and division.blamed_frame.function == "Map::GetAverageHealth"
    null_target = analyze_text(gdb_output(gameserver_build, "combat"))
    assert division.signature.id != null_target.signature.id  # type: ignore[union-attr]


def test_assertion_blames_the_asserting_function(gameserver_build: Path) -> None:
    report = analyze_text(gdb_output(gameserver_build, "assert", ("bt",)))
    assert report.exception is not None and report.exception.code == "SIGABRT"
    assert report.assertion is not None and report.assertion.condition == "diff > 0"
    assert report.blamed_frame is not None and report.blamed_frame.function == "Player::Update"
    assert report.signature is not None and report.signature.crash_class == "assert"


def test_use_after_free_under_address_sanitizer(gameserver_asan_build: Path) -> None:
    output = run([str(gameserver_asan_build / "worldserver"), "logout"])
    if "AddressSanitizer" not in output:
        pytest.fail("the ASan build did not report the use-after-free:\n" + output[-2000:])
    report = analyze_text(output)
    assert report.format is SourceFormat.SANITIZER
    assert report.exception is not None and report.exception.code == "heap-use-after-free"
    assert report.blamed_frame is not None and report.blamed_frame.function == "Unit::GetHealth"
    freed = next(s for s in report.related_stacks if s.title.startswith("freed by"))
    assert "Map::RemovePlayer" in [f.function for f in freed.frames]


def test_the_game_tests_pass_on_the_buggy_code(gameserver_build: Path) -> None:
    """The fixture's ctest suite is green before any fix: the fixer must keep it so."""
    require_tools("ctest")
    result = subprocess.run(["ctest", "--output-on-failure"], cwd=gameserver_build, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
