"""Parsing real compiler, linker, CMake and ctest output into diagnostics, and the feedback built from them.

GCC (and Clang, when installed), CMake and ctest run for real on small broken inputs; MSVC
and GoogleTest output, which this machine cannot produce, is kept verbatim as text.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from crashfix.fixer.models import Diagnostic, StepResult, VerifyResult
from crashfix.fixer.verify.diagnostics import feedback_text, format_diagnostic, parse_diagnostics, relative_path
from tests.conftest import require_tools, tool_unavailable

# -- helpers ---------------------------------------------------------------------------------


@pytest.fixture(params=["g++", "clang++"])
def compiler(request: pytest.FixtureRequest) -> str:
    """Each test runs with GCC and with Clang (skipped with a reason, or failed under CRASHFIX_REQUIRE_TOOLS=1)."""
    name: str = request.param
    require_tools(name)
    return name


def compile_broken(compiler: str, root: Path, source: str, *flags: str, link: bool = False,
                   header: str | None = None) -> str:
    """Compile `source` as root/src/broken.cpp (absolute path, as CMake passes it) and return what it printed."""
    (root / "src").mkdir(exist_ok=True)
    (root / "src" / "broken.cpp").write_text(source)
    if header is not None:
        (root / "src" / "broken.h").write_text(header)
    out = ["-o", str(root / "a.out")] if link else ["-c", "-o", str(root / "broken.o")]
    result = subprocess.run([compiler, "-std=c++17", *flags, str(root / "src" / "broken.cpp"), *out],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0, "the snippet was meant not to build"
    return result.stdout + result.stderr


def errors(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.severity in ("error", "fatal")]


# -- GCC / Clang, for real -------------------------------------------------------------------

UNDECLARED = """\
#include <string>
struct Unit { int hp; };

int Damage(Unit& unit) {
    return missing_var + unit.hp;
}
"""


def test_undeclared_identifier(compiler: str, tmp_path: Path) -> None:
    output = compile_broken(compiler, tmp_path, UNDECLARED)
    [first] = errors(parse_diagnostics(output, tmp_path))
    assert first.tool == ("gcc" if compiler == "g++" else "clang")
    assert (first.path, first.line, first.column) == ("src/broken.cpp", 5, 12)
    assert "missing_var" in first.message
    assert "return missing_var + unit.hp;" in first.context and "^" in first.context
    if compiler == "g++":
        assert first.context.splitlines()[0] == "In function ‘int Damage(Unit&)’:"


MISMATCH = """\
#include <string>
void Take(int* target);
void Update() {
    std::string name;
    Take(name);
    int unused = 3;
}
"""


def test_type_mismatch_keeps_notes_and_warnings(compiler: str, tmp_path: Path) -> None:
    diagnostics = parse_diagnostics(compile_broken(compiler, tmp_path, MISMATCH, "-Wall"), tmp_path)
    [error] = errors(diagnostics)
    assert (error.path, error.line) == ("src/broken.cpp", 5)
    assert "note:" in error.context and "src/broken.cpp:2:" in error.context  # the declaration of Take
    warnings = [d for d in diagnostics if d.severity == "warning"]
    if compiler == "clang++":  # Clang does not warn about unused variables of a function that failed
        assert warnings == []
        return
    [warning] = warnings
    assert (warning.line, warning.code) == (6, "-Wunused-variable")
    assert "unused" in warning.message and "[-W" not in warning.message


def test_missing_include_is_fatal(compiler: str, tmp_path: Path) -> None:
    output = compile_broken(compiler, tmp_path, '#include "nothere.h"\nint main() {}\n')
    [fatal] = parse_diagnostics(output, tmp_path)
    assert (fatal.severity, fatal.path, fatal.line) == ("fatal", "src/broken.cpp", 1)
    assert "nothere.h" in fatal.message
    assert "compilation terminated" not in fatal.context


def test_error_in_header_keeps_include_chain(compiler: str, tmp_path: Path) -> None:
    output = compile_broken(compiler, tmp_path, '#include "broken.h"\nint main() { return Twice(2); }\n',
                            header="inline int Twice(int x) { return x * y; }\n")
    [error] = errors(parse_diagnostics(output, tmp_path))
    assert (error.path, error.line) == ("src/broken.h", 1)
    assert "In file included from" in error.context and "broken.cpp:1" in error.context
    if compiler == "g++":
        assert error.context.splitlines()[1] == "In function ‘int Twice(int)’:"


UNDEFINED = """\
int Helper(int value);
namespace game { void Update(); }
int main() { game::Update(); return Helper(3); }
"""


def test_undefined_reference_at_link(compiler: str, tmp_path: Path) -> None:
    output = compile_broken(compiler, tmp_path, UNDEFINED, "-g", link=True)
    diagnostics = parse_diagnostics(output, tmp_path)
    assert all(d.tool == "linker" for d in diagnostics)
    messages = " ".join(d.message for d in diagnostics)
    assert "Helper(int)" in messages and "game::Update()" in messages
    assert "ld returned" not in messages and "linker command failed" not in messages  # summaries dropped
    assert any(d.path == "src/broken.cpp" and d.line == 3 for d in diagnostics)


def test_colour_codes_do_not_matter(tmp_path: Path) -> None:
    require_tools("g++")
    output = compile_broken("g++", tmp_path, UNDECLARED, "-fdiagnostics-color=always")
    assert "\x1b[" in output
    [first] = errors(parse_diagnostics(output, tmp_path))
    assert (first.path, first.line) == ("src/broken.cpp", 5) and "\x1b" not in first.message + first.context


def test_sanitizer_report_from_a_test(tmp_path: Path) -> None:
    require_tools("g++")
    source = "struct P { int hp; };\nint Use(P* p) { return p->hp; }\n" \
             "int main() { P* p = new P{3}; delete p; return Use(p); }\n"
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "uaf.cpp").write_text(source)
    built = subprocess.run(["g++", "-g", "-fsanitize=address", str(tmp_path / "src" / "uaf.cpp"),
                            "-o", str(tmp_path / "uaf")], capture_output=True, text=True, timeout=60)
    if built.returncode != 0:
        tool_unavailable(f"g++ cannot build with AddressSanitizer: {built.stderr[-200:]}")
    run = subprocess.run([str(tmp_path / "uaf")], capture_output=True, text=True, timeout=60)
    [report] = parse_diagnostics(run.stdout + run.stderr, tmp_path)
    assert report.tool == "test" and report.severity == "failure"
    assert report.message.startswith("AddressSanitizer: heap-use-after-free") and " at pc " not in report.message
    assert (report.path, report.line) == ("src/uaf.cpp", 2)
    assert "READ of size 4" in report.context


# -- Clang, verbatim (lld and the driver) ----------------------------------------------------

CLANG_LLD = """\
/work/game/src/Player.cpp:12:5: error: use of undeclared identifier 'target'
   12 |     target->Attack();
      |     ^
1 error generated.
ld.lld: error: undefined symbol: Helper(int)
>>> referenced by main.cpp:3 (/work/game/src/main.cpp:3)
>>>               CMakeFiles/worldserver.dir/src/main.cpp.o:(main)
clang++: error: linker command failed with exit code 1 (use -v to see invocation)
"""


def test_clang_and_lld_verbatim() -> None:
    compile_error, link_error = parse_diagnostics(CLANG_LLD, Path("/work/game"))
    assert (compile_error.tool, compile_error.path, compile_error.line) == ("clang", "src/Player.cpp", 12)
    assert (link_error.tool, link_error.path, link_error.line) == ("linker", "src/main.cpp", 3)
    assert link_error.message == "undefined symbol: Helper(int)" and ">>> referenced by" in link_error.context


APPLE_LD = """\
Undefined symbols for architecture arm64:
  "Helper(int)", referenced from:
      _main in main.cpp.o
ld: symbol(s) not found for architecture arm64
clang: error: linker command failed with exit code 1 (use -v to see invocation)
"""


def test_apple_ld_verbatim() -> None:
    [undefined] = parse_diagnostics(APPLE_LD)
    assert undefined.tool == "linker"
    assert undefined.message == 'Undefined symbols for architecture arm64: "Helper(int)", referenced from:'
    assert undefined.context.strip() == "_main in main.cpp.o"


def test_driver_error_alone_is_kept() -> None:
    [error] = parse_diagnostics("clang++: error: no such file or directory: 'src/Missing.cpp'\n")
    assert (error.tool, error.message) == ("clang", "no such file or directory: 'src/Missing.cpp'")


# -- MSVC, verbatim --------------------------------------------------------------------------

MSBUILD = r"""MSBuild version 17.9.8+b34f75857 for .NET Framework
  Checking Build System
  Building Custom Rule C:/src/game/CMakeLists.txt
  Player.cpp
C:\src\game\src\Player.cpp(42,17): error C2065: 'target': undeclared identifier [C:\src\game\build\game.vcxproj]
C:\src\game\src\Player.cpp(57,21): warning C4244: 'argument': conversion from 'double' to 'int', possible loss of data [C:\src\game\build\game.vcxproj]
  Map.cpp
C:\src\game\src\Map.cpp(7,19): error C2664: 'void Map::AddPlayer(Player *)': cannot convert argument 1 from 'int' to 'Player *' [C:\src\game\build\game.vcxproj]
C:\src\game\src\Map.cpp(7,19): message : Conversion from integral type to pointer type requires reinterpret_cast, C-style cast or parenthesized function-style cast [C:\src\game\build\game.vcxproj]
C:\src\game\src\Map.h(14,10): message : see declaration of 'Map::AddPlayer' [C:\src\game\build\game.vcxproj]
  Unit.cpp
c:\src\game\src\unit.cpp(3): fatal error C1083: Cannot open include file: 'nothere.h': No such file or directory [C:\src\game\build\game.vcxproj]

Build FAILED.

"C:\src\game\build\ALL_BUILD.vcxproj" (default target) (1) ->
"C:\src\game\build\game.vcxproj" (default target) (3) ->
(ClCompile target) ->
  C:\src\game\src\Player.cpp(57,21): warning C4244: 'argument': conversion from 'double' to 'int', possible loss of data [C:\src\game\build\game.vcxproj]


"C:\src\game\build\ALL_BUILD.vcxproj" (default target) (1) ->
"C:\src\game\build\game.vcxproj" (default target) (3) ->
(ClCompile target) ->
  C:\src\game\src\Player.cpp(42,17): error C2065: 'target': undeclared identifier [C:\src\game\build\game.vcxproj]
  C:\src\game\src\Map.cpp(7,19): error C2664: 'void Map::AddPlayer(Player *)': cannot convert argument 1 from 'int' to 'Player *' [C:\src\game\build\game.vcxproj]
  c:\src\game\src\unit.cpp(3): fatal error C1083: Cannot open include file: 'nothere.h': No such file or directory [C:\src\game\build\game.vcxproj]

    1 Warning(s)
    3 Error(s)

Time Elapsed 00:00:02.41
"""


def test_msvc_cl_through_msbuild() -> None:
    diagnostics = parse_diagnostics(MSBUILD, Path("C:\\src\\game"))
    assert [(d.code, d.path, d.line, d.column) for d in diagnostics] == [
        ("C2065", "src/Player.cpp", 42, 17),
        ("C4244", "src/Player.cpp", 57, 21),
        ("C2664", "src/Map.cpp", 7, 19),
        ("C1083", "src/unit.cpp", 3, None),  # lower case from cl, still under C:\src\game
    ]  # the summary after "Build FAILED." repeats them: kept once
    undeclared, warning, mismatch, fatal = diagnostics
    assert undeclared.message == "'target': undeclared identifier" and undeclared.tool == "msvc"
    assert warning.severity == "warning" and fatal.severity == "fatal"
    assert "see declaration of 'Map::AddPlayer'" in mismatch.context and "vcxproj" not in mismatch.context + \
        mismatch.message


MSVC_NINJA_LINK = r"""[1/3] Building CXX object CMakeFiles\game.dir\src\Player.cpp.obj
FAILED: CMakeFiles/game.dir/src/Player.cpp.obj
C:\PROGRA~1\MICROS~2\2022\ENTERP~1\VC\Tools\MSVC\1438~1.331\bin\Hostx64\x64\cl.exe  /nologo /TP -IC:\src\game\src /DWIN32 /D_WINDOWS /GR /EHsc /O2 /Ob1 /DNDEBUG -MD /showIncludes /FoCMakeFiles\game.dir\src\Player.cpp.obj /FdCMakeFiles\game.dir\game.pdb /FS -c C:\src\game\src\Player.cpp
C:\src\game\src\Player.cpp(42): error C2065: 'target': undeclared identifier
    if (target->IsAlive())
        ^
ninja: build stopped: subcommand failed.
main.obj : error LNK2019: unresolved external symbol "public: void __cdecl Unit::Update(unsigned int)" (?Update@Unit@@QEAAXI@Z) referenced in function main [C:\src\game\build\worldserver.vcxproj]
game.lib(Player.obj) : error LNK2001: unresolved external symbol "private: static int Player::s_count" (?s_count@Player@@0HA) [C:\src\game\build\worldserver.vcxproj]
C:\src\game\build\Release\worldserver.exe : fatal error LNK1120: 2 unresolved externals [C:\src\game\build\worldserver.vcxproj]
"""


def test_msvc_ninja_caret_and_link_errors() -> None:
    compile_error, lnk2019, lnk2001 = parse_diagnostics(MSVC_NINJA_LINK, Path("C:/src/game"))
    assert (compile_error.path, compile_error.line, compile_error.column) == ("src/Player.cpp", 42, None)
    assert "if (target->IsAlive())" in compile_error.context
    assert (lnk2019.tool, lnk2019.code, lnk2019.context) == ("linker", "LNK2019", "in main.obj")
    assert lnk2019.message.endswith("referenced in function main")
    assert lnk2001.code == "LNK2001" and "Player::s_count" in lnk2001.message  # LNK1120 is only a summary


def test_lnk1120_kept_when_it_is_all_there_is() -> None:
    [summary] = parse_diagnostics(r"C:\b\app.exe : fatal error LNK1120: 1 unresolved externals" + "\n")
    assert (summary.code, summary.severity) == ("LNK1120", "fatal")


# -- CMake and ctest, for real ---------------------------------------------------------------


def test_cmake_configure_error(tmp_path: Path) -> None:
    require_tools("cmake")
    (tmp_path / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.16)\nproject(bad NONE)\nadd_exectuable(worldserver main.cpp)\n")
    run = subprocess.run(["cmake", "-S", str(tmp_path), "-B", str(tmp_path / "build")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    [error] = parse_diagnostics(run.stdout + run.stderr, tmp_path)
    assert (error.tool, error.path, error.line, error.code) == ("cmake", "CMakeLists.txt", 3, "add_exectuable")
    assert error.message == 'Unknown CMake command "add_exectuable".'


def test_cmake_error_block_and_plain_error() -> None:
    text = ("CMake Error at src/CMakeLists.txt:12 (add_executable):\n  Cannot find source file:\n\n"
            "    Missing.cpp\n\n  Tried extensions .c .C .c++ .cc .cpp .cxx\n\n\n"
            "CMake Error: The source directory \"/nowhere\" does not exist.\n")
    block, plain = parse_diagnostics(text)
    assert (block.path, block.line) == ("src/CMakeLists.txt", 12)
    assert block.message == "Cannot find source file: Missing.cpp" and "Tried extensions" in block.context
    assert (plain.path, plain.message) == (None, 'The source directory "/nowhere" does not exist.')


CTEST_PROJECT = """\
cmake_minimum_required(VERSION 3.16)
project(checks CXX)
enable_testing()
add_executable(passes passes.cpp)
add_executable(fails fails.cpp)
add_test(NAME passes COMMAND passes)
add_test(NAME fails COMMAND fails)
"""
FAILING_TEST = """\
#include <cassert>
#include <cstdio>
int main() {
    int health = 20;
    std::printf("damage check: health is %d, expected 25\\n", health);
    std::fflush(stdout);
    assert(health == 25);
}
"""


def test_ctest_failure_with_output(tmp_path: Path) -> None:
    require_tools("cmake", "ctest", "c++")
    (tmp_path / "CMakeLists.txt").write_text(CTEST_PROJECT)
    (tmp_path / "passes.cpp").write_text("int main() { return 0; }\n")
    (tmp_path / "fails.cpp").write_text(FAILING_TEST)
    build = tmp_path / "build"
    for argv in (["cmake", "-S", str(tmp_path), "-B", str(build)], ["cmake", "--build", str(build)]):
        subprocess.run(argv, check=True, capture_output=True, timeout=120)
    run = subprocess.run(["ctest", "--test-dir", str(build), "--output-on-failure"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    diagnostics = parse_diagnostics(run.stdout + run.stderr, tmp_path)
    failed, assertion = diagnostics
    assert failed.tool == "test" and failed.message == "ctest: test 'fails' aborted"
    assert "health is 20, expected 25" in failed.context
    assert (assertion.path, assertion.line, assertion.message) == ("fails.cpp", 7, "assertion failed: health == 25")
    assert not any("passes" in d.message for d in diagnostics)  # nor the "FAILED:" list repeating 'fails'


def test_ctest_statuses_and_failed_list() -> None:
    text = """Test project /b
    Start 1: hangs
1/3 Test #1: hangs ............................***Timeout  10.01 sec
    Start 2: crashes
2/3 Test #2: crashes ..........................***Exception: SegFault  0.01 sec
    Start 3: exits
3/3 Test #3: exits ............................***Failed    0.00 sec

0% tests passed, 3 tests failed out of 3

The following tests FAILED:
\t  1 - hangs (Timeout)
\t  2 - crashes (SEGFAULT)
\t  3 - exits (Failed)
\t  4 - never_started (Not Run)
Errors while running CTest
"""
    assert [d.message for d in parse_diagnostics(text)] == [
        "ctest: test 'hangs' timed out", "ctest: test 'crashes' crashed (SegFault)", "ctest: test 'exits' failed",
        "ctest: test 'never_started' was not run",
    ]


# -- GoogleTest, verbatim --------------------------------------------------------------------

GTEST = """\
[==========] Running 3 tests from 1 test suite.
[----------] Global test environment set-up.
[----------] 3 tests from PlayerTest
[ RUN      ] PlayerTest.TakesDamage
/home/runner/work/game/game/tests/player_test.cpp:23: Failure
Expected equality of these values:
  victim.GetHealth()
    Which is: 20
  25

[  FAILED  ] PlayerTest.TakesDamage (0 ms)
[ RUN      ] PlayerTest.Dies
[       OK ] PlayerTest.Dies (0 ms)
[ RUN      ] PlayerTest.NeedsTarget
unknown file: Failure
C++ exception with description "no target" thrown in the test body.

[  FAILED  ] PlayerTest.NeedsTarget (1 ms)
[----------] 3 tests from PlayerTest (1 ms total)

[----------] Global test environment tear-down
[==========] 3 tests from 1 test suite ran. (1 ms total)
[  PASSED  ] 1 test.
[  FAILED  ] 2 tests, listed below:
[  FAILED  ] PlayerTest.TakesDamage
[  FAILED  ] PlayerTest.NeedsTarget

 2 FAILED TESTS
"""


def test_googletest_failures() -> None:
    damage, exception = parse_diagnostics(GTEST, Path("/home/runner/work/game/game"))
    assert (damage.path, damage.line) == ("tests/player_test.cpp", 23)
    assert damage.message == "PlayerTest.TakesDamage: Expected equality of these values:"
    assert "Which is: 20" in damage.context
    assert exception.path is None and exception.message.startswith("PlayerTest.NeedsTarget: C++ exception")


def test_googletest_on_windows_and_fallback() -> None:
    text = ("[ RUN      ] MapTest.Average\nC:\\src\\game\\tests\\map_test.cpp(31): error: Value of: map.Average()\n"
            "  Actual: 0\nExpected: 75\n[  FAILED  ] MapTest.Average (0 ms)\n"
            "ninja: error: loading 'build.ninja': No such file or directory\n"
            "ERROR: the code generator crashed\nmake[2]: *** No rule to make target 'src/Gone.cpp'.  Stop.\n"
            "make[2]: *** [CMakeFiles/game.dir/build.make:76: game] Error 1\n")
    gtest, other, upper, make = parse_diagnostics(text, Path("C:\\src\\game"))
    assert (gtest.tool, gtest.path, gtest.line) == ("test", "tests/map_test.cpp", 31)
    assert gtest.message == "MapTest.Average: Value of: map.Average()" and "Expected: 75" in gtest.context
    assert (other.tool, other.message) == ("other", "ninja: error: loading 'build.ninja': No such file or directory")
    assert upper.message == "ERROR: the code generator crashed"
    assert make.message == "No rule to make target 'src/Gone.cpp'.  Stop."


# -- paths, repeats ----------------------------------------------------------------------------


def test_relative_paths() -> None:
    assert relative_path("/work/game/src/a.cpp", Path("/work/game")) == "src/a.cpp"
    assert relative_path("/work/game/build/../src/a.cpp", Path("/work/game")) == "src/a.cpp"
    assert relative_path("/work/gameserver/a.cpp", Path("/work/game")) == "/work/gameserver/a.cpp"
    assert relative_path("C:\\Src\\Game\\src\\a.cpp", Path("c:\\src\\game")) == "src/a.cpp"
    assert relative_path("/usr/include/c++/12/string", Path("/work/game")) == "/usr/include/c++/12/string"
    assert relative_path("src\\a.cpp", None) == "src/a.cpp"


def test_repeats_are_dropped() -> None:
    line = "/w/src/a.cpp:3:1: error: expected ';' before '}' token\n"
    assert len(parse_diagnostics(line * 3 + line.replace(":3:", ":4:"), Path("/w"))) == 2


# -- feedback --------------------------------------------------------------------------------


def _step(diagnostics: list[Diagnostic], returncode: int | None = 2, timed_out: bool = False,
          output_tail: str = "", phase: str = "build") -> StepResult:
    return StepResult.model_validate({
        "phase": phase, "command": ["cmake", "--build", "build"], "returncode": returncode, "timed_out": timed_out,
        "seconds": 12.4, "output_tail": output_tail, "diagnostics": diagnostics})


def _many(count: int, severity: str = "error", context_lines: int = 8) -> list[Diagnostic]:
    context = "\n".join(f"    {n} | some source line that is fairly long {'x' * 60}" for n in range(context_lines))
    return [Diagnostic.model_validate({"tool": "gcc", "severity": severity, "path": f"src/f{i}.cpp", "line": i + 1,
                                       "column": 3, "message": f"problem number {i}", "context": context})
            for i in range(count)]


def test_feedback_names_command_and_errors_first() -> None:
    diagnostics = _many(2, "warning") + _many(3)
    text = feedback_text(VerifyResult(round=1, steps=[_step(diagnostics)]))
    assert text.startswith("The build command `cmake --build build` failed with exit code 2.")
    assert "src/f0.cpp:1:3: error: problem number 0" in text and ": warning:" not in text
    only_warnings = feedback_text(_step(_many(2, "warning")))
    assert "Warnings (no errors were recognised):" in only_warnings and "src/f1.cpp:2:3: warning" in only_warnings


def test_feedback_limits() -> None:
    step = _step(_many(30))
    for limit in (120, 500, 1500, 4000, 20000):
        text = feedback_text([step], limit_chars=limit)
        assert len(text) <= limit
    text = feedback_text([step])
    assert "First 10 of 30 errors:" in text
    assert text.count(": error: problem number") <= 10
    assert "problem number 0" in text and "some source line" in text  # the first error keeps its context


def test_feedback_timeout_and_tail_when_nothing_parsed() -> None:
    tail = "\n".join(f"line {n}" for n in range(100))
    text = feedback_text(_step([], returncode=None, timed_out=True, output_tail=tail, phase="test"))
    assert text.startswith("The test command `cmake --build build` did not finish within its time limit and was killed after 12 s.")
    assert "line 99" in text and "line 60" in text and "line 59" not in text
    assert len(feedback_text(_step([], output_tail="y" * 100 + "\n" + "z" * 250 + "\n" * 3), limit_chars=200)) <= 200


def test_feedback_names_signals_and_windows_exceptions() -> None:
    assert "was killed by SIGSEGV (Segmentation fault)." in feedback_text(_step([], returncode=-11))
    assert "crashed with exception 0xC0000005 (ACCESS_VIOLATION)." in feedback_text(_step([], returncode=0xC0000005))


def test_feedback_empty_when_all_passed() -> None:
    assert feedback_text(VerifyResult(round=1, steps=[_step([], returncode=0)])) == ""


def test_format_diagnostic_without_path() -> None:
    diagnostic = Diagnostic(tool="linker", code="LNK2019", message="unresolved external symbol X", context="in a.obj")
    assert format_diagnostic(diagnostic) == "linker error [LNK2019]: unresolved external symbol X\n    in a.obj"
