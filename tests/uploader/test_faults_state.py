"""The state folder under real faults, through the real CLI: a second watcher, a read-only
folder, a full disk. Each is one line naming the folder and what to do, never a traceback."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_tools
from tests.fakes.github_server import FakeGitHub
from tests.uploader.helpers import write_crashes
from tests.uploader.process_helpers import cli_env, config_file, crashfix, filed_before, occurrences, run, wait_for


@pytest.fixture()
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(owner="acme", repo="worldserver") as fake:
        yield fake


def test_a_second_watcher_on_one_state_folder_is_refused_in_one_line(github: FakeGitHub, tmp_path: Path) -> None:
    folder, state = tmp_path / "crashes", tmp_path / "state"
    write_crashes(folder, signatures=20, repeats=3)
    config = config_file(tmp_path, write_interval_seconds=0.0)
    first = crashfix("watch", str(folder), "--config", str(config), "--state-dir", str(state), github=github)
    try:
        wait_for(lambda: "running (pid" in run("status", "--state-dir", str(state), github=github).stdout,
                 "the first watcher holds the state folder", process=first)
        for args in (("watch", str(folder)), ("watch", str(folder), "--once")):
            second = run(*args, "--config", str(config), "--state-dir", str(state), github=github)
            assert second.returncode == 75, second.stderr
            [line] = second.stderr.strip().splitlines()
            assert f"another crashfix watch (pid {first.pid}) is already using the state folder {state}" in line
            assert "--state-dir" in line
        status = run("status", "--state-dir", str(state), github=github).stdout
        assert f"running (pid {first.pid} holds the state folder" in status
        wait_for(lambda: occurrences(github) == [3] * 20, "all 60 crashes are filed", timeout=120, process=first)
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=30)
    assert len(github.requests_to("POST", r"/issues$")) == 20  # no issue twice, no duplicate closed
    assert "not running" in run("status", "--state-dir", str(state), github=github).stdout  # the lock went with it


def in_private_mount(script: str, **env: str) -> subprocess.Popen[str]:
    """Run a shell script as root of a new user and mount namespace: it may mount a read-only
    folder or a tiny tmpfs there (the test itself may run as root, who ignores permission bits)."""
    require_tools("unshare")
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    if probe.returncode != 0:
        message = f"unshare -rm is not permitted here: {probe.stderr.decode(errors='replace').strip()}"
        if os.environ.get("CRASHFIX_REQUIRE_TOOLS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return subprocess.Popen(["unshare", "-rm", "sh", "-c", script], env={**os.environ, **env}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def crashfix_line(*args: str) -> str:
    return shlex.join([sys.executable, "-m", "crashfix", *args])


def test_a_read_only_state_folder_is_one_line_and_exit_74(github: FakeGitHub, tmp_path: Path) -> None:
    folder, state, config = filed_before(github, tmp_path, signatures=1, repeats=1)
    write_crashes(folder, signatures=1, repeats=1, prefix="later")
    quoted = shlex.quote(str(state))
    script = (f"mount --bind {quoted} {quoted} && mount -o remount,ro,bind {quoted} {quoted} && "
              + crashfix_line("watch", str(folder), "--once", "--config", str(config), "--state-dir", str(state)))
    process = in_private_mount(script, **cli_env(github))
    _, err = process.communicate(timeout=120)
    assert process.returncode == 74, err
    [line] = err.strip().splitlines()
    assert line.startswith(f"crashfix: error: cannot write to the state folder {state}")
    assert "make it writable for the account that runs crashfix" in line and "--state-dir" in line
    assert occurrences(github) == [1]  # nothing was filed without a spool to record it in


def test_a_full_disk_is_waited_out_by_the_watcher(github: FakeGitHub, tmp_path: Path) -> None:
    folder, state, go = tmp_path / "crashes", tmp_path / "state", tmp_path / "space-freed"
    write_crashes(folder, signatures=2, repeats=1)
    state.mkdir()
    config = config_file(tmp_path)
    quoted = shlex.quote(str(state))
    script = (f"mount -t tmpfs -o size=8m tmpfs {quoted} && (cat /dev/zero > {quoted}/filler 2>/dev/null; true) && "
              + crashfix_line("watch", str(folder), "--config", str(config), "--state-dir", str(state))
              + f" & while [ ! -e {shlex.quote(str(go))} ]; do sleep 0.1; done; rm {quoted}/filler; wait")
    process = in_private_mount(script, **cli_env(github))
    try:
        lines: list[str] = []
        assert process.stderr is not None
        while not any("is full" in line for line in lines):
            line = process.stderr.readline()
            assert line, f"the watcher ended without saying the disk is full: {lines}"
            lines.append(line)
        full = next(line for line in lines if "is full" in line)
        assert f"the disk holding the state folder {state} is full" in full and "retrying every" in full
        assert not occurrences(github) and process.poll() is None  # waiting, not dead
        go.touch()  # space is freed
        wait_for(lambda: occurrences(github) == [1, 1], "the crashes are filed once there is room", timeout=120)
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # a background job of `sh -c` ignores SIGINT
        _, rest = process.communicate(timeout=30)
    assert "Traceback" not in "".join(lines) + rest


def test_crashfix_file_beside_a_running_watcher_hands_the_crash_over(github: FakeGitHub, tmp_path: Path) -> None:
    watched, state = tmp_path / "crashes", tmp_path / "state"
    watched.mkdir()
    [crash] = write_crashes(tmp_path / "elsewhere", signatures=1, repeats=1)
    config = config_file(tmp_path)
    watcher = crashfix("watch", str(watched), "--config", str(config), "--state-dir", str(state), github=github)
    try:
        wait_for(lambda: "running (pid" in run("status", "--state-dir", str(state), github=github).stdout,
                 "the watcher holds the state folder", process=watcher)
        filed = run("file", str(crash), "--config", str(config), "--state-dir", str(state), github=github)
        assert filed.returncode == 0, filed.stderr
        assert f"(by the running watcher, pid {watcher.pid})" in filed.stdout
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.communicate(timeout=30)
    assert occurrences(github) == [1] and len(github.requests_to("POST", r"/issues$")) == 1
