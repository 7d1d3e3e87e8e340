"""The baseline's rules without a build: test names from runner output, cutting them out, the judge,
the cache key, test framework detection, and what a declared regression test may run."""

from __future__ import annotations

from pathlib import Path

from crashfix.config import FixSettings
from crashfix.fixer.models import RegressionTest, StepResult, VerifyResult
from crashfix.fixer.test_framework import detect, refusal, wanted
from crashfix.fixer.verify.baseline import Baseline, BaselineRecord, baseline_key
from crashfix.fixer.verify.diagnostics import feedback_text, parse_diagnostics
from crashfix.fixer.verify.test_ids import failed_tests, without_tests

CTEST = """Test project /b
    Start 1: game_tests
1/3 Test #1: game_tests .......................***Failed    0.01 sec
CHECK failed: victim.GetHealth() == 20 (tests/game_tests.cpp:18)
    Start 2: dns_lookup
2/3 Test #2: dns_lookup .......................***Failed    0.01 sec
resolve master.example.org: Temporary failure in name resolution
error: lookup failed
    Start 3: chat
3/3 Test #3: chat .............................   Passed    0.01 sec

33% tests passed, 2 tests failed out of 3

The following tests FAILED:
\t  1 - game_tests (Failed)
\t  2 - dns_lookup (Failed)
Errors while running CTest
"""
GTEST = """[ RUN      ] Net.Dns
net.cpp:5: Failure
Expected: ok
[  FAILED  ] Net.Dns (3 ms)
[ RUN      ] Chat.Whisper
chat.cpp:9: Failure
Value of: len < 256
[  FAILED  ] Chat.Whisper (0 ms)
[  FAILED  ] 2 tests, listed below:
[  FAILED  ] Net.Dns
[  FAILED  ] Chat.Whisper
"""
RULE, DOUBLE = "-" * 79, "=" * 79
CATCH2 = f"""{RULE}
Whisper overflow
  long names
{RULE}
/src/t.cpp:10
{"." * 79}

/src/t.cpp:12: FAILED:
  REQUIRE( sent )

{RULE}
Dns lookup
{RULE}
/src/t.cpp:20
{"." * 79}

/src/t.cpp:22: FAILED:
due to a fatal error condition:
  SIGSEGV - Segmentation violation signal

{DOUBLE}
test cases: 3 | 1 passed | 2 failed
"""
DOCTEST = f"""[doctest] doctest version is "2.4.11"
{DOUBLE}
/src/t.cpp:5:
TEST CASE:  dns lookup

/src/t.cpp:7: ERROR: CHECK( ok ) is NOT correct!

{DOUBLE}
[doctest] test cases: 2 | 1 passed | 1 failed | 0 skipped
"""


def test_failing_tests_are_named_for_each_runner() -> None:
    assert failed_tests(CTEST) == ["ctest:game_tests", "ctest:dns_lookup"]
    assert failed_tests(GTEST) == ["gtest:Net.Dns", "gtest:Chat.Whisper"]
    assert failed_tests(CATCH2) == ["catch2:Whisper overflow", "catch2:Dns lookup"]
    assert failed_tests(DOCTEST) == ["doctest:dns lookup"]
    assert failed_tests('t.cpp(12): error: in "net/dns": check ok has failed') == ["boost:net/dns"]
    assert failed_tests("all tests passed\n[  FAILED  ] 1 test, listed below:") == []


def test_cutting_out_a_test_leaves_the_others_output() -> None:
    for text, gone, kept in ((CTEST, "ctest:dns_lookup", "victim.GetHealth() == 20"),
                             (GTEST, "gtest:Net.Dns", "Value of: len < 256"),
                             (CATCH2, "catch2:Dns lookup", "REQUIRE( sent )"),
                             (CATCH2, "catch2:Whisper overflow", "SIGSEGV")):
        shown, removed = without_tests(text, [gone])
        name = gone.split(":", 1)[1]
        assert name not in shown and removed > 0 and kept in shown
    shown, _ = without_tests(CTEST, ["ctest:dns_lookup"])
    assert "name resolution" not in shown and "lookup failed" not in shown


def _step(returncode: int, text: str, index_phase: str = "test") -> StepResult:
    return StepResult(phase=index_phase, command=["ctest"], returncode=returncode, seconds=1.0,  # type: ignore[arg-type]
                      output_tail=text, diagnostics=parse_diagnostics(text) if returncode else [],
                      failed_tests=failed_tests(text) if returncode else [])


def _baseline(tmp_path: Path, *steps: StepResult) -> Baseline:
    record = BaselineRecord(key="k", base_commit="a" * 40, result=VerifyResult(round=0, steps=list(steps)),
                            seconds=1.0)
    return Baseline(record, False, tmp_path / "k.json", tmp_path)


def test_only_new_failures_count_and_the_old_ones_are_never_shown(tmp_path: Path) -> None:
    base_text = CTEST.replace("1/3 Test #1: game_tests .......................***Failed",
                              "1/3 Test #1: game_tests .......................   Passed").replace(
        "\t  1 - game_tests (Failed)\n", "")
    baseline = _baseline(tmp_path, _step(0, "built", "build"), _step(8, base_text))
    assert baseline.preexisting() == ["ctest:dns_lookup"]
    same = baseline.judge(1, _step(8, base_text), base_text)
    assert same.known_failure and same.passed and same.preexisting == ["ctest:dns_lookup"]
    worse = baseline.judge(1, _step(8, CTEST), CTEST)
    assert not worse.passed and worse.preexisting == ["ctest:dns_lookup"]
    told = feedback_text(VerifyResult(round=1, steps=[worse]))
    assert "game_tests" in told and "dns_lookup" not in told and "name resolution" not in told
    assert "1 test failure(s) that were there before your change" in told
    unreadable = baseline.judge(1, _step(2, "Segmentation fault"), "Segmentation fault")
    assert not unreadable.passed  # it named no test although the base's run did: new


def test_unnamed_failures_count_as_old_only_with_the_same_status_and_errors(tmp_path: Path) -> None:
    old = "error: lookup of master.example.org failed after 3 tries"
    baseline = _baseline(tmp_path, _step(3, old))
    again = old.replace("3 tries", "4 tries")  # numbers are ignored
    assert baseline.judge(0, _step(3, again), again).known_failure
    assert not baseline.judge(0, _step(4, old), old).known_failure  # another exit status
    other = "error: the world map failed to load"
    assert not baseline.judge(0, _step(3, other), other).known_failure  # another error


def test_the_cache_key_follows_the_commit_and_the_build_configuration() -> None:
    settings = FixSettings(build=[["cmake", "--build", "b"]], test=[["ctest"]])
    key = baseline_key("a" * 40, settings)
    assert key == baseline_key("a" * 40, settings.model_copy(update={"model": "other", "repair_rounds": 5}))
    assert key != baseline_key("b" * 40, settings)
    assert key != baseline_key("a" * 40, settings.model_copy(update={"test": (("ctest", "-j2"),)}))
    assert key != baseline_key("a" * 40, settings.model_copy(update={"keep_env": ("CCACHE_DIR",)}))


def test_a_test_framework_is_detected_by_the_documented_rule(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.cpp").write_text("int main() { return 0; }\n")
    (tmp_path / "CMakeLists.txt").write_text("add_executable(server src/main.cpp)\n")
    runs_tests = FixSettings(test=[["build/run_tests.sh"]])
    assert detect(tmp_path, FixSettings())[0] is False  # no test commands
    assert detect(tmp_path, runs_tests)[0] is False
    assert detect(tmp_path, FixSettings(test=[["ctest", "--test-dir", "build"]])) == (True, "the test commands run ctest")
    (tmp_path / "third_party").mkdir()
    (tmp_path / "third_party" / "vendored.cpp").write_text("#include <gtest/gtest.h>\n")
    assert detect(tmp_path, runs_tests)[0] is False  # vendored code is not the project's
    (tmp_path / "src" / "test.cpp").write_text("#include <catch2/catch_test_macros.hpp>\n")
    assert detect(tmp_path, runs_tests) == (True, "src/test.cpp includes a test framework")
    (tmp_path / "CMakeLists.txt").write_text("enable_testing()\nadd_test(NAME t COMMAND t)\n")
    assert detect(tmp_path, runs_tests) == (True, "CMakeLists.txt registers tests")
    assert wanted(tmp_path, runs_tests.model_copy(update={"regression_test": "off"}))[0] is False
    assert wanted(tmp_path, FixSettings(regression_test="required"))[0] is True


def test_a_declared_test_runs_only_a_test_program_on_declared_changed_files(tmp_path: Path) -> None:
    settings = FixSettings(test=[["ctest", "--test-dir", "build"]])
    changed = ["src/Player.cpp", "tests/t.cpp"]

    def why(command: list[str], files: list[str] | None = None) -> str | None:
        return refusal(RegressionTest(files=files or ["tests/t.cpp"], command=command), changed, tmp_path, settings)

    assert why(["ctest", "-R", "^t$"]) is None
    assert why(["build/unit_tests", "--gtest_filter=A.B"]) is None
    assert why(["{checkout}/build/unit_tests"]) is None
    assert "must be one the project's test commands run" in (why(["curl", "http://x"]) or "")
    assert "must be one the project's test commands run" in (why(["../outside/tool"]) or "")
    assert "must be one the project's test commands run" in (why(["/usr/bin/python3", "-c", "1"]) or "")
    assert "not among the files you changed" in (why(["ctest"], ["tests/other.cpp"]) or "")
    assert "every changed file is declared a test file" in (why(["ctest"], changed) or "")
