"""Baseline first and the regression test, end to end with real parts: the game server fixture built
with cmake and tested with ctest for real, the real anthropic client against the fake API with
scripted turns, real git, and (where the PR body matters) the fake GitHub through PyGithub.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.anthropic_server import FakeAnthropic, Turn, tool_use
from tests.fakes.github_server import FakeGitHub
from tests.fixer.helpers import (
    FIX_CONFIG,
    TOKEN,
    crash_for_real,
    file_crash,
    fix_environment,
    game_repository,
    git,
    run_cli,
)
from tests.fixer.test_fix_e2e import FIXED, NULL_CHECK, comments, event

pytestmark = pytest.mark.tools

# A test that fails on the base commit for a reason of its own: a DNS lookup on an offline runner.
OFFLINE_DNS = {
    "tests/dns_test.cpp": "#include <cstdio>\nint main()\n{\n    std::fprintf(stderr, \"resolve master.example.org: "
                          "Temporary failure in name resolution\\n\");\n    return 1;\n}\n",
    "+CMakeLists.txt": "add_executable(dns_tests tests/dns_test.cpp)\nadd_test(NAME dns_lookup COMMAND dns_tests)\n",
}
DOUBLE_DAMAGE = {"path": "src/Player.cpp", "old_text": "        _damageDone += _attackPower;\n",
                 "new_text": "        _damageDone += 2 * _attackPower;\n"}
UNDO_DOUBLE = {"path": "src/Player.cpp", "old_text": "_damageDone += 2 * _attackPower;",
               "new_text": "_damageDone += _attackPower;"}
REGISTER_TEST = {"path": "CMakeLists.txt", "old_text": "add_test(NAME game_tests COMMAND game_tests)\n",
                 "new_text": "add_test(NAME game_tests COMMAND game_tests)\n"
                             "add_executable(regression_tests tests/regression_tests.cpp)\n"
                             "target_link_libraries(regression_tests PRIVATE game)\n"
                             "add_test(NAME no_target_regression COMMAND regression_tests)\n"}
REPRODUCES = ("// A player without a target must not crash when it updates (the crash of the issue).\n"
              "#include \"Player.h\"\n\nint main()\n{\n    Player lonely(\"A\", 100, 30);\n"
              "    lonely.Update(100);\n    return lonely.GetDamageDone() == 0 ? 0 : 1;\n}\n")
DOES_NOT_REPRODUCE = ("#include \"Player.h\"\n\nint main()\n{\n    Player a(\"A\", 100, 30);\n    Player b(\"B\", 50, 0);\n"
                      "    a.SetTarget(&b);\n    a.Update(100);\n    return b.GetHealth() == 20 ? 0 : 1;\n}\n")
DECLARED = {"files": ["CMakeLists.txt", "tests/regression_tests.cpp"], "name": "no_target_regression",
            "command": ["ctest", "--test-dir", "build", "-R", "^no_target_regression$", "--output-on-failure"]}


def with_test(source: str) -> list[dict[str, Any]]:
    """The model's turn: the fix, a test registered with ctest, and `finish` declaring it."""
    return [tool_use("edit", NULL_CHECK), tool_use("edit", REGISTER_TEST),
            tool_use("edit", {"path": "tests/regression_tests.cpp", "old_text": "", "new_text": source}),
            tool_use("finish", {**FIXED, "regression_test": DECLARED})]


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(owner="acme", repo="worldserver", token=TOKEN) as fake:
        yield fake
        assert not fake.server_errors, fake.server_errors[0]


def local_run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], anthropic: FakeAnthropic,
              tmp_path: Path, checkout: Path, crash_text: str) -> dict[str, Any]:
    crash = tmp_path / "crash.txt"
    crash.write_text(crash_text)
    capsys.readouterr()
    run_cli(monkeypatch, ["fix", "--local", "--report", str(crash), "--checkout", str(checkout), "--json"],
            fix_environment(None, anthropic.url, tmp_path))
    printed = capsys.readouterr().out
    result: dict[str, Any] = json.loads(printed[printed.index("{"):])
    return result


def said_to_model(anthropic: FakeAnthropic) -> str:
    return json.dumps([request.json for request in anthropic.message_requests()])


def test_a_test_failing_before_any_edit_stays_out_of_the_repair_loop(
        github: FakeGitHub, anthropic: FakeAnthropic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        crash_text: str) -> None:
    origin, checkout = game_repository(tmp_path, files=OFFLINE_DNS)
    github.use_git(origin)
    number = file_crash(github, tmp_path, crash_text)

    def first(request: dict[str, Any]) -> Turn:
        prompt = request["messages"][0]["content"][-1]["text"]
        assert "it builds, and 1 test failure(s) were there before any edit" in prompt
        return Turn([tool_use("edit", NULL_CHECK), tool_use("edit", DOUBLE_DAMAGE), tool_use("finish", FIXED)])

    def repair(request: dict[str, Any]) -> Turn:
        said = request["messages"][-1]["content"][-1]["text"]
        assert "round 1 of build and tests failed (test failed)" in said
        assert "game_tests" in said and "GetDamageDone() == 60" in said  # its own failure, with the check
        assert "1 test failure(s) that were there before your change" in said
        return Turn([tool_use("edit", UNDO_DOUBLE), tool_use("finish", FIXED)])

    anthropic.enqueue(first, repair)
    env = fix_environment(github, anthropic.url, tmp_path, **event(tmp_path, "opened", "crashfix-bot"),
                          GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"))
    assert run_cli(monkeypatch, ["fix", "--issue", str(number), "--checkout", str(checkout)], env) == 0

    everything = said_to_model(anthropic)
    assert len(anthropic.message_requests()) == 2
    assert "dns_lookup" not in everything and "name resolution" not in everything and "dns_test" not in everything
    body = github.pull(next(iter(github.pulls)))["body"]
    assert "| 1 | ✅ passed | ❌ exit 8" in body
    assert "| 2 | ✅ passed | ✅ passed (1 pre-existing failure(s) only) |" in body
    assert "Pre-existing failures (already on the base commit" in body and "ctest:dns_lookup" in body
    assert "built and tests pass (crash not reproduced)" in body  # no regression test was declared
    sticky = next(b for b in comments(github, number) if "crashfix:progress" in b)
    assert "1 pre-existing test failure(s)" in sticky
    summary = (tmp_path / "summary.md").read_text()
    assert "ctest:dns_lookup" in summary and "built and tests pass (crash not reproduced)" in summary


def test_the_baseline_is_reused_for_the_same_commit_and_configuration(
        anthropic: FakeAnthropic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], crash_text: str) -> None:
    builds = tmp_path / "builds.log"  # every run of the build's first command adds a line
    count = f"[\"python3\", \"-c\", \"open(r'{builds}', 'a').write('build\\\\n')\"],\n"
    origin, checkout = game_repository(tmp_path, FIX_CONFIG.replace("build = [\n", "build = [\n  " + count))
    anthropic.enqueue(Turn([tool_use("edit", NULL_CHECK), tool_use("finish", FIXED)]),
                      Turn([tool_use("edit", NULL_CHECK), tool_use("finish", FIXED)]))

    first = local_run(monkeypatch, capsys, anthropic, tmp_path, checkout, crash_text)
    assert first["status"] == "local" and first["baseline"]["cached"] is False and first["baseline"]["built"]
    assert builds.read_text().count("build") == 2  # the base commit, then round 1
    cache_file = Path(first["baseline"]["cache_file"])
    assert cache_file.is_file() and cache_file.parent.name == "baseline"

    fresh = tmp_path / "fresh-clone"  # the same base commit and configuration in a new clone
    git(tmp_path, "clone", "-q", str(origin), str(fresh))
    second = local_run(monkeypatch, capsys, anthropic, tmp_path, fresh, crash_text)
    assert second["status"] == "local" and second["baseline"]["cached"] is True
    assert second["baseline"]["base_commit"] == first["baseline"]["base_commit"]
    assert builds.read_text().count("build") == 3  # only round 1 of the second run built


def test_a_regression_test_that_crashes_on_the_base_and_passes_on_the_fix_is_reproduced_and_fixed(
        github: FakeGitHub, anthropic: FakeAnthropic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        crash_text: str) -> None:
    origin, checkout = game_repository(tmp_path)
    github.use_git(origin)
    number = file_crash(github, tmp_path, crash_text)

    def answer(request: dict[str, Any]) -> Turn:
        prompt = request["messages"][0]["content"][-1]["text"]
        assert "## A regression test" in prompt and "the test commands run ctest" in prompt
        return Turn(with_test(REPRODUCES))

    anthropic.enqueue(answer)
    env = fix_environment(github, anthropic.url, tmp_path, **event(tmp_path, "opened", "crashfix-bot"),
                          GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"))
    assert run_cli(monkeypatch, ["fix", "--issue", str(number), "--checkout", str(checkout)], env) == 0

    body = github.pull(next(iter(github.pulls)))["body"]
    assert "**Verification level:** ✅ reproduced and fixed" in body
    assert "passes on the fix; crashes on the base commit (exit status 8)" in body
    assert "reproduced and fixed" in (tmp_path / "summary.md").read_text()
    from crashfix.issues.progress import read_state  # the record `crashfix stats` reads

    state = read_state(next(b for b in comments(github, number) if "crashfix:progress" in b))
    assert state is not None and state["verification"] == "reproduced-and-fixed"
    pushed = git(origin, "rev-parse", f"refs/heads/crashfix/issue-{number}").strip()
    assert sorted(git(origin, "show", "--name-only", "--format=", pushed).split()) == \
        ["CMakeLists.txt", "src/Player.cpp", "tests/regression_tests.cpp"]
    assert "Proposed-By: crashfix (reproduced and fixed)" in git(origin, "log", "-1", "--format=%B", pushed)
    # the checkout holds the fix again, and so does the build folder (rebuilt after the base-commit run)
    assert git(checkout, "status", "--porcelain").strip() == ""
    assert "if (!target)" in (checkout / "src" / "Player.cpp").read_text()
    rerun = crash_for_real(checkout / "build", "combat")
    assert "SIGSEGV" not in rerun and "exited normally" in rerun, rerun


def test_a_regression_test_that_passes_on_the_base_too_does_not_reproduce_the_crash(
        anthropic: FakeAnthropic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], crash_text: str) -> None:
    _, checkout = game_repository(tmp_path)
    anthropic.enqueue(Turn(with_test(DOES_NOT_REPRODUCE)))
    outcome = local_run(monkeypatch, capsys, anthropic, tmp_path, checkout, crash_text)
    assert outcome["status"] == "local" and outcome["verification"] == "built-and-tests-pass"
    assert outcome["regression"]["on_fix"] == "passed" and outcome["regression"]["on_base"] == "passed"
    assert "passes on the base commit too" in outcome["regression"]["detail"]
    assert outcome["reason"].startswith("built and tests pass (crash not reproduced): committed on local branch")


def test_required_without_a_reproducing_test_is_not_delivered_as_verified(
        anthropic: FakeAnthropic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], crash_text: str) -> None:
    config = FIX_CONFIG.replace("repair_rounds = 3", "repair_rounds = 2\nregression_test = \"required\"")
    _, checkout = game_repository(tmp_path, config)

    def again(request: dict[str, Any]) -> Turn:
        said = request["messages"][-1]["content"][-1]["text"]
        assert "a regression test is required" in said and "You declared no regression test." in said
        return Turn([tool_use("finish", FIXED)])

    anthropic.enqueue(Turn([tool_use("edit", NULL_CHECK), tool_use("finish", FIXED)]), again)
    outcome = local_run(monkeypatch, capsys, anthropic, tmp_path, checkout, crash_text)
    assert len(outcome["rounds"]) == 2 and all(r["steps"][-1]["returncode"] == 0 for r in outcome["rounds"])
    assert outcome["status"] == "needs-human" and outcome["verification"] == "not-verified"
    assert "regression_test = required" in outcome["reason"] and "not delivered as verified" in outcome["reason"]
    subject = git(checkout, "log", "-1", "--format=%s", outcome["branch"]).strip()
    assert subject.startswith("Unverified crashfix attempt")


def test_a_base_commit_that_does_not_build_is_said_and_ends_the_rounds(
        anthropic: FakeAnthropic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], crash_text: str) -> None:
    broken = {"+src/World.cpp": "\nstatic int broken_before_the_crash = undeclared_thing;\n"}
    _, checkout = game_repository(tmp_path, files=broken)

    def first(request: dict[str, Any]) -> Turn:
        prompt = request["messages"][0]["content"][-1]["text"]
        assert "The base commit does NOT build" in prompt and "undeclared_thing" in prompt
        return Turn([tool_use("edit", NULL_CHECK), tool_use("finish", FIXED)])

    anthropic.enqueue(first)
    outcome = local_run(monkeypatch, capsys, anthropic, tmp_path, checkout, crash_text)
    assert outcome["baseline"]["built"] is False and "undeclared_thing" in " ".join(outcome["baseline"]["build_errors"])
    assert len(outcome["rounds"]) == 1 and len(anthropic.message_requests()) == 1  # no repair round on old errors
    assert outcome["status"] == "needs-human" and outcome["verification"] == "not-verified"
    assert "the base commit does not build either" in outcome["reason"]


def test_a_declared_test_that_fails_on_the_fix_is_a_failed_round_for_the_model(
        anthropic: FakeAnthropic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], crash_text: str) -> None:
    _, checkout = game_repository(tmp_path)
    binary_only = {"path": "CMakeLists.txt", "old_text": "add_test(NAME game_tests COMMAND game_tests)\n",
                   "new_text": "add_test(NAME game_tests COMMAND game_tests)\n"
                               "add_executable(regression_tests tests/regression_tests.cpp)\n"
                               "target_link_libraries(regression_tests PRIVATE game)\n"}  # not in ctest's run
    not_a_fix = {"path": "src/Player.cpp", "old_text": "    Unit* target = GetTarget();\n",
                 "new_text": "    Unit* target = GetTarget(); // the current target\n"}
    declared = {"files": ["CMakeLists.txt", "tests/regression_tests.cpp"], "command": ["build/regression_tests"]}

    def repair(request: dict[str, Any]) -> Turn:
        said = request["messages"][-1]["content"][-1]["text"]
        assert "The regression test you declared fails on your fix" in said and "build/regression_tests" in said
        return Turn([tool_use("edit", {**NULL_CHECK, "old_text": not_a_fix["new_text"]}),
                     tool_use("finish", FIXED)])  # the test is not declared again: the first declaration holds

    anthropic.enqueue(Turn([tool_use("edit", binary_only), tool_use("edit", not_a_fix),
                            tool_use("edit", {"path": "tests/regression_tests.cpp", "old_text": "",
                                              "new_text": REPRODUCES}),
                            tool_use("finish", {**FIXED, "regression_test": declared})]), repair)
    outcome = local_run(monkeypatch, capsys, anthropic, tmp_path, checkout, crash_text)
    first = outcome["rounds"][0]["steps"]
    assert first[-1]["command"] == ["build/regression_tests"] and first[-1]["returncode"] != 0
    assert outcome["status"] == "local" and outcome["verification"] == "reproduced-and-fixed"
    assert outcome["regression"]["on_base"] == "crashed" and "SIGSEGV" in outcome["regression"]["detail"]


def test_continuing_an_unverified_attempt_counts_its_failures_as_the_fixs(
        github: FakeGitHub, anthropic: FakeAnthropic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        crash_text: str) -> None:
    """A failed attempt on `crashfix/issue-N` broke a test: a re-run continuing that branch must not take the
    broken test as "failing before any edit", or a fix that leaves it broken would pass as verified."""
    config = FIX_CONFIG.replace("repair_rounds = 3", "repair_rounds = 1")
    origin, checkout = game_repository(tmp_path, config)
    github.use_git(origin)
    github.set_permission("maintainer", "maintain")
    number = file_crash(github, tmp_path, crash_text)
    anthropic.enqueue(Turn([tool_use("edit", NULL_CHECK), tool_use("edit", DOUBLE_DAMAGE), tool_use("finish", FIXED)]))
    opened = fix_environment(github, anthropic.url, tmp_path, **event(tmp_path, "opened", "crashfix-bot"))
    assert run_cli(monkeypatch, ["fix", "--issue", str(number), "--checkout", str(checkout)], opened) == 0
    tip = git(origin, "rev-parse", f"refs/heads/crashfix/issue-{number}").strip()
    assert "Crashfix-Verified: no" in git(origin, "log", "-1", "--format=%B", tip)  # the broken attempt, pushed

    def keeps_it(request: dict[str, Any]) -> Turn:
        comment = {"path": "src/Player.cpp", "old_text": "        _damageDone += 2 * _attackPower;\n",
                   "new_text": "        // the attack lands\n        _damageDone += 2 * _attackPower;\n"}
        return Turn([tool_use("edit", comment), tool_use("finish", FIXED)])  # the doubled damage stays

    def repair(request: dict[str, Any]) -> Turn:
        said = request["messages"][-1]["content"][-1]["text"]
        assert "game_tests" in said and "before your change" not in said  # the attempt's failure, as the fix's
        return Turn([tool_use("edit", UNDO_DOUBLE), tool_use("finish", FIXED)])

    anthropic.enqueue(keeps_it, repair)
    github.label_issue(number, "reanalyze", "maintainer")
    again = fix_environment(github, anthropic.url, tmp_path, **event(tmp_path, "labeled", "maintainer", "reanalyze"))
    fresh = tmp_path / "fresh-checkout"
    git(tmp_path, "clone", "-q", str(origin), str(fresh))
    config_path = fresh / ".github" / "crashfix.toml"
    config_path.write_text(config_path.read_text().replace("repair_rounds = 1", "repair_rounds = 2"))
    git(fresh, "-c", "user.name=dev", "-c", "user.email=d@e", "commit", "-qam", "two rounds")
    assert run_cli(monkeypatch, ["fix", "--issue", str(number), "--checkout", str(fresh)], again) == 0
    assert len(anthropic.message_requests()) == 3
    final = git(origin, "rev-parse", f"refs/heads/crashfix/issue-{number}").strip()
    assert "_damageDone += _attackPower;" in git(origin, "show", f"{final}:src/Player.cpp")
    assert "Crashfix-Verified: yes" in git(origin, "log", "-1", "--format=%B", final)
