"""The verify step runs real commands: a scrubbed environment, killed process trees, clear failures, redaction."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from crashfix import procs
from crashfix.config import FixSettings
from crashfix.errors import UsageError
from crashfix.fixer.verify.steps import NoBuildCommandsError, decode_output, require_commands, run_round
from crashfix.scrub import redact, scrubbed_environment, secret_values_in
from tests.conftest import require_tools

GITHUB_TOKEN = "ghs_0123456789abcdefGHIJKL"
ANTHROPIC_KEY = "sk-ant-api03-abcdefghijklmnop"
PY = sys.executable


def settings(build: object = None, test: object = None, **extra: object) -> FixSettings:
    return FixSettings.model_validate({"build": build or [], "test": test or [], **extra})


def environ(**extra: str) -> dict[str, str]:
    base = {
        "PATH": os.environ["PATH"], "HOME": str(Path.home()), "TEMP": "/tmp", "LANG": "C.UTF-8",
        "GITHUB_TOKEN": GITHUB_TOKEN, "ANTHROPIC_API_KEY": ANTHROPIC_KEY, "INPUT_X": "input-value-1",
        "MY_SECRET": "my-secret-value", "ACTIONS_RUNTIME_TOKEN": "runtime-token-value", "GITHUB_ENV": "/tmp/set_env",
        "GITHUB_REPOSITORY": "owner/game",
    }
    return {**base, **extra}


# -- the environment -------------------------------------------------------------------------


def test_build_command_sees_no_secret(tmp_path: Path) -> None:
    """A "build" that dumps its environment: nothing secret reaches it, PATH and kept names do."""
    (tmp_path / "dump.py").write_text(
        "import json, os, pathlib\n"
        "pathlib.Path('env.json').write_text(json.dumps(dict(os.environ)))\n"
        "print(json.dumps(dict(os.environ)))\n")
    env = environ(CONAN_PASSWORD="conan-password-1", LEAKY_URL=f"https://x:{GITHUB_TOKEN}@github.com/o/r",
                  DEPLOY_KEY="deploy-key-value", github_token="lower-case-name-1",
                  **{"INPUT_ANTHROPIC-API-KEY": "input-api-key-1"})
    result = run_round(tmp_path, settings([[PY, "dump.py"]], keep_env=("conan_password", "INPUT_X")), env, 1,
                       secret_values=[ANTHROPIC_KEY])
    assert result.ok, result.feedback
    child = json.loads((tmp_path / "env.json").read_text())  # what the child itself saw, unredacted
    for name in ("GITHUB_TOKEN", "ANTHROPIC_API_KEY", "MY_SECRET", "ACTIONS_RUNTIME_TOKEN", "GITHUB_ENV",
                 "LEAKY_URL", "DEPLOY_KEY", "github_token", "INPUT_ANTHROPIC-API-KEY"):
        assert name not in child
    dumped = (tmp_path / "env.json").read_text()
    assert GITHUB_TOKEN not in dumped and ANTHROPIC_KEY not in dumped and "my-secret-value" not in dumped
    assert child["PATH"] == os.environ["PATH"] and child["GITHUB_REPOSITORY"] == "owner/game"
    assert child["CONAN_PASSWORD"] == "conan-password-1" and child["INPUT_X"] == "input-value-1"  # kept
    assert child["CTEST_OUTPUT_ON_FAILURE"] == "1"
    assert GITHUB_TOKEN not in result.steps[0].output_tail


def test_scrub_rules() -> None:
    env = {"PATH": "/bin", "Path": "C:\\Windows", "HOME": "/h", "PWD": "/w", "TMPDIR": "/t", "INPUT_TOKEN": "t",
           "Anthropic_Base_Url": "https://x", "AWS_SECRET_ACCESS_KEY": "k", "NPM_AUTH": "a", "SSH_AUTH_SOCK": "s",
           "GIT_AUTHOR_NAME": "Bot", "KEYBOARD": "us", "XDG_SESSION_ID": "3", "DB_PASSWD": "p", "MY_APIKEY": "k",
           "INNOCENT": "prefix-ghs_0123456789abcdefGHIJKL-suffix", "SHORT": "abc"}
    kept = scrubbed_environment(env, keep=["GITHUB_TOKEN", "db_passwd"], secret_values=[GITHUB_TOKEN, "abc"])
    assert sorted(kept) == ["DB_PASSWD", "GIT_AUTHOR_NAME", "HOME", "KEYBOARD", "PATH", "PWD", "Path", "SHORT",
                            "TMPDIR"]
    # `keep` never brings back crashfix's own credentials, nor a value that is a secret
    assert "GITHUB_TOKEN" not in scrubbed_environment({"GITHUB_TOKEN": "x"}, keep=["GITHUB_TOKEN"])
    assert scrubbed_environment({"MY_TOKEN": GITHUB_TOKEN}, keep=["MY_TOKEN"], secret_values=[GITHUB_TOKEN]) == {}
    # whoever has a webhook URL can post to the team's channel
    hooks = {"CRASHFIX_WEBHOOK_URL": "https://discord.com/api/webhooks/1/abc", "SLACK_WEBHOOK": "https://hooks.x/y"}
    assert scrubbed_environment(hooks) == {}


def test_credentials_in_values_with_harmless_names_are_dropped_and_redacted() -> None:
    """A proxy or database URL with a password, a signed cache URL, a JWT, git's config-by-environment."""
    env = {"HTTPS_PROXY": "http://bob:pw-123456@proxy.corp:3128", "DATABASE_URL": "postgres://u:hunter22@db/x",
           "VCPKG_BINARY_SOURCES": "clear;x-azblob,https://a.blob/c,sv=2021&sig=abcdef123,readwrite",
           "CI_JOB_JWT": "eyJhbGciOi", "AWS_CREDS": "AKIA123456", "GIT_CONFIG_COUNT": "1",
           "GIT_CONFIG_KEY_0": "http.extraHeader", "GIT_CONFIG_VALUE_0": "AUTHORIZATION: basic Ym9iOnB3",
           "NO_PROXY": "localhost", "HTTP_PROXY": "http://proxy.corp:3128", "CMAKE_URL": "https://x.test/a?b=c"}
    assert sorted(scrubbed_environment(env)) == ["CMAKE_URL", "HTTP_PROXY", "NO_PROXY"]
    assert "HTTPS_PROXY" in scrubbed_environment(env, keep=["HTTPS_PROXY"])  # a build that needs it says so
    found = secret_values_in(env)
    assert env["HTTPS_PROXY"] in found and env["DATABASE_URL"] in found and env["HTTP_PROXY"] not in found
    assert "pw-123456" not in redact(f"proxy {env['HTTPS_PROXY']} failed", found)


def test_secret_values_from_names() -> None:
    env = environ(CREDENTIALS_DIR="/home/runner", SERVICE_URL_TOKEN="https://example.com/x", SHORT_TOKEN="abc")
    found = secret_values_in(env, keep=["MY_SECRET"])
    assert set(found) == {GITHUB_TOKEN, ANTHROPIC_KEY, "runtime-token-value"}  # not paths, URLs, short or kept


def test_value_only_match_is_dropped(tmp_path: Path) -> None:
    (tmp_path / "dump.py").write_text("import os, pathlib\npathlib.Path('names').write_text(' '.join(os.environ))\n")
    env = {"PATH": os.environ["PATH"], "BUILD_OPTS": f"--header=Bearer:{GITHUB_TOKEN}"}
    result = run_round(tmp_path, settings([[PY, "dump.py"]]), env, 1, secret_values=[GITHUB_TOKEN])
    assert result.ok
    names = (tmp_path / "names").read_text().split()
    assert "BUILD_OPTS" not in names and "PATH" in names


def test_redact() -> None:
    assert redact(f"token={GITHUB_TOKEN}; again {GITHUB_TOKEN}", [GITHUB_TOKEN]) == "token=***; again ***"
    assert redact("a short one: abc1234", ["abc1234"]) == "a short one: abc1234"  # under 8 characters
    assert redact("secret-value-longer", ["secret-value", "secret-value-longer"]) == "***"


def test_decode_output() -> None:
    assert decode_output("Füße ok\n".encode()) == "Füße ok\n"
    mixed = "utf-8: é\n".encode() + "cp1252: é\n".encode("cp1252")
    assert decode_output(mixed) == "utf-8: é\ncp1252: é\n"
    assert decode_output("C2065 undeclared\r\n".encode("utf-16")) == "C2065 undeclared\r\n"


# -- running rounds --------------------------------------------------------------------------


def test_no_commands_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(NoBuildCommandsError) as raised:
        run_round(tmp_path, settings(), environ(), 1)
    assert isinstance(raised.value, UsageError) and ".github/crashfix.toml" in raised.value.one_line()
    with pytest.raises(NoBuildCommandsError):
        require_commands(settings([[]], []))
    require_commands(settings(test="ctest"))


def test_a_list_of_command_lines_is_several_commands(tmp_path: Path) -> None:
    result = run_round(tmp_path, settings(["no-such-tool-xyz --all", "no-such-tool-xyz --install"]), environ(), 1)
    [step] = result.steps  # the first command line failed to start; the second never ran
    assert step.command == ["no-such-tool-xyz", "--all"]
    assert "command not found: 'no-such-tool-xyz'" in result.feedback


def test_missing_executable_is_a_failed_step(tmp_path: Path) -> None:
    result = run_round(tmp_path, settings([["no-such-build-tool-xyz", "--all"]], [[PY, "-c", "pass"]]), environ(), 2)
    [step] = result.steps  # tests were not run
    assert not result.ok and step.returncode is None and not step.timed_out
    assert "command not found: 'no-such-build-tool-xyz'" in step.output_tail
    assert "could not be started" in result.feedback and "no-such-build-tool-xyz" in result.feedback


def test_build_failure_skips_tests_and_checkout_placeholder(tmp_path: Path) -> None:
    build = [[PY, "-c", "import sys; print('building in', sys.argv[1]); sys.exit(3)", "{checkout}/build"]]
    result = run_round(tmp_path, settings(build, [[PY, "-c", "open('tested', 'w')"]]), environ(), 1)
    [step] = result.steps
    assert (step.phase, step.returncode, result.failed_phase) == ("build", 3, "build")
    assert step.command[-1] == "{checkout}/build"  # as configured: no machine path reaches the model or the PR
    assert "building in build\n" in step.output_tail  # the output names checkout paths repository-relative
    assert not (tmp_path / "tested").exists()
    assert "failed with exit code 3" in result.feedback and "\nbuilding in build" in result.feedback


def test_secret_printed_by_a_build_is_redacted(tmp_path: Path) -> None:
    (tmp_path / "leak.py").write_text(f"print('error: authentication with {GITHUB_TOKEN} was rejected')\n"
                                      "raise SystemExit(1)\n")
    result = run_round(tmp_path, settings([[PY, "leak.py"]]), environ(), 1, secret_values=[GITHUB_TOKEN])
    [step] = result.steps
    assert GITHUB_TOKEN not in step.output_tail + result.feedback + step.model_dump_json()
    assert "authentication with *** was rejected" in step.output_tail
    assert step.diagnostics[0].message == "error: authentication with *** was rejected"


HANGING_TEST = """\
import subprocess, sys, time, pathlib
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
pathlib.Path("grandchild.pid").write_text(str(child.pid))
print("started a grandchild", flush=True)
time.sleep(120)
"""


def test_timeout_kills_the_whole_tree(tmp_path: Path) -> None:
    (tmp_path / "hang.py").write_text(HANGING_TEST)
    started = time.monotonic()
    result = run_round(tmp_path, settings(test=[[PY, "hang.py"]], test_timeout_seconds=1), environ(), 1)
    assert time.monotonic() - started < 20
    [step] = result.steps
    assert step.phase == "test" and step.timed_out and step.returncode is None
    assert "did not finish within its time limit and was killed after" in result.feedback
    grandchild = int((tmp_path / "grandchild.pid").read_text())
    deadline = time.monotonic() + 5
    while procs.pid_alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not procs.pid_alive(grandchild)


def test_deadline_caps_the_step_timeout(tmp_path: Path) -> None:
    now = [1000.0]
    spent = run_round(tmp_path, settings([[PY, "-c", "pass"]]), environ(), 3, deadline=999.0, clock=lambda: now[0])
    assert spent.steps[0].timed_out and spent.steps[0].seconds == 0 and "time budget" in spent.feedback
    started = time.monotonic()
    capped = run_round(tmp_path, settings([[PY, "-c", "import time; time.sleep(60)"]]), environ(), 3,
                       deadline=time.monotonic() + 1.0)
    assert capped.steps[0].timed_out and time.monotonic() - started < 15


TINY_PROJECT = """\
cmake_minimum_required(VERSION 3.16)
project(tiny CXX)
enable_testing()
add_executable(tiny src/main.cpp)
add_test(NAME tiny COMMAND tiny)
"""
BROKEN_MAIN = """\
#include <cstdio>
int main() {
    int health = 100;
    std::printf("%d\\n", helth);
    return 0;
}
"""


def test_real_cmake_build_failure_then_fix(tmp_path: Path) -> None:
    require_tools("cmake", "ctest", "c++")
    (tmp_path / "src").mkdir()
    (tmp_path / "CMakeLists.txt").write_text(TINY_PROJECT)
    (tmp_path / "src" / "main.cpp").write_text(BROKEN_MAIN)
    configured = settings([["cmake", "-S", "{checkout}", "-B", "{checkout}/build"], "cmake --build {checkout}/build"],
                          "ctest --test-dir {checkout}/build", build_timeout_seconds=120, test_timeout_seconds=60)
    failed = run_round(tmp_path, configured, environ(), 1)
    assert [step.ok for step in failed.steps] == [True, False] and failed.failed_phase == "build"
    [error] = [d for d in failed.steps[1].diagnostics if d.severity == "error"]
    assert (error.path, error.line) == ("src/main.cpp", 4) and "helth" in error.message
    assert "src/main.cpp:4:" in failed.feedback and "helth" in failed.feedback
    assert failed.feedback.startswith("The build command `cmake --build '{checkout}/build'` failed with exit code")
    assert str(tmp_path) not in failed.feedback

    (tmp_path / "src" / "main.cpp").write_text(BROKEN_MAIN.replace("helth", "health"))
    fixed = run_round(tmp_path, configured, environ(), 2)
    assert fixed.ok and [step.phase for step in fixed.steps] == ["build", "build", "test"]
    assert fixed.feedback == "" and fixed.steps[2].diagnostics == []
